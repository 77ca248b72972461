"""The caster's accounts in the platform database (mountpoints with their source passwords,
rover accounts), operators managing their own, and the caster's live state as the API sees it."""
