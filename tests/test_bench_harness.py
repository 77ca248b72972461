"""The kernel counters the network benchmarks report (benchmarks/_harness.py), parsed from real
copies of this machine's /proc files (tests/data/proc). Expected values read by eye from those
files: the column under each name on the line after its header."""

from __future__ import annotations

from pathlib import Path

from benchmarks._harness import counter_delta, parse_proc_table, parse_softnet_dropped

PROC = Path(__file__).parent / "data" / "proc"


def test_snmp_and_netstat_tables() -> None:
    snmp = parse_proc_table((PROC / "snmp").read_text())
    # "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets
    #  CurrEstab InSegs OutSegs RetransSegs ..." / "Tcp: 1 200 120000 -1 545 68 222 6 2 36906 15524 10 ..."
    assert snmp["Tcp"]["RtoMin"] == 200  # ms: the minimum retransmit timeout the README cites
    assert snmp["Tcp"]["MaxConn"] == -1
    assert snmp["Tcp"]["InSegs"] == 36906
    assert snmp["Tcp"]["RetransSegs"] == 10
    assert {"Ip", "Icmp", "IcmpMsg", "Tcp", "Udp", "UdpLite"} <= snmp.keys()
    netstat = parse_proc_table((PROC / "netstat").read_text())
    ext = netstat["TcpExt"]
    assert len(ext) == 135  # the header line has 136 words: "TcpExt:" and 135 names
    assert ext["TCPTimeouts"] == 2
    assert ext["ListenOverflows"] == 0
    assert ext["ListenDrops"] == 0
    assert ext["TCPSynRetrans"] == 0
    assert ext["DelayedACKs"] == 71
    assert "IpExt" in netstat


def test_softnet_drops_are_the_second_column() -> None:
    text = (PROC / "softnet_stat").read_text()
    # two CPUs; columns: processed (0x342, 0x8efb), dropped (0, 0), time squeeze, ...
    assert parse_softnet_dropped(text) == 0
    # the same lines with drops of 0x1f and 0x100 on the two CPUs (what an overflowing
    # netdev_max_backlog looks like): 31 + 256
    lines = text.splitlines()
    dropped = [ln.split() for ln in lines]
    dropped[0][1], dropped[1][1] = "0000001f", "00000100"
    assert parse_softnet_dropped("\n".join(" ".join(cols) for cols in dropped)) == 287


def test_counter_delta() -> None:
    before = {"TCPTimeouts": 2, "backlog_dropped": 0, "RetransSegs": 10}
    after = {"TCPTimeouts": 7, "backlog_dropped": 31, "RetransSegs": 10, "ListenDrops": 3}
    assert counter_delta(before, after) == {"TCPTimeouts": 5, "backlog_dropped": 31, "RetransSegs": 0}
