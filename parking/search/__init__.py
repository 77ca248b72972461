"""Finding a place to park: lots near a point with live free spaces and prices, one lot's
picture, guidance to a free space, and the quotes the trip planner asks for."""
