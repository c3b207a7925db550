#!/usr/bin/python3
"""Replay a secwatch JSON corpus through fail2ban's own classes.

fail2ban's Filter (failregex + <HOST> + date detection) reads every line and
its FailManager counts failures per IP with findtime/maxretry, exactly as
Filter.processLineAndAdd does in the daemon, except that fail2ban's clock
(MyTime) is set to each line's own timestamp, so that a recorded log is
judged as if it were live. A ban is what secwatch calls an alert.

Equivalent of bench/rules1.yaml (more than 10 authentication failures per
client IP in 5 minutes, cooldown 15 minutes): maxretry 11, findtime 300 s,
bantime 900 s (lines from a banned IP are not counted while it is banned,
as iptables would drop them).

Prints one JSON object: lines, failures, banned IPs, and detection against
the generator's truth file.

    fail2ban_replay.py CORPUS TRUTH
"""
import json
import sys

from fail2ban.server.filter import Filter
from fail2ban.server.mytime import MyTime
from fail2ban.server.failmanager import FailManagerEmpty
from fail2ban.server.ticket import FailTicket

FINDTIME = 300
MAXRETRY = 11
BANTIME = 900


class Jail:
    """The part of a jail the filter talks to."""

    name = "secwatch-bench"
    database = None

    def __init__(self):
        self.banned = {}  # ip -> ban end (log time)
        self.bans = 0

    def putFailTicket(self, ticket):
        ip = str(ticket.getID())
        self.banned[ip] = ticket.getTime() + BANTIME
        self.bans += 1


def main():
    corpus, truth_path = sys.argv[1], sys.argv[2]
    jail = Jail()
    flt = Filter(jail)
    flt.ignoreSelf = False
    flt.setFindTime(FINDTIME)
    flt.setMaxRetry(MAXRETRY)
    # fail2ban's filter definition for the SecurityEvent JSON (see
    # bench/peers/fail2ban/secwatch.conf, the same expressions).
    flt.setDatePattern(r'"timestamp":"%Y-%m-%dT%H:%M:%S(?:\.%f)?"')
    flt.addFailRegex(r'^\{"event_type":"authentication_failure",.*"client_ip":"<HOST>"')
    fm = flt.failManager
    lines = failures = 0
    banned_ips = set()
    with open(corpus, encoding="utf-8") as fh:
        # fail2ban treats a line more than a minute away from its clock as
        # "now" (a timezone guard); start the clock at the first line's time
        # and then keep it at the last line's.
        first = fh.readline()
        fh.seek(0)
        found = flt.dateDetector.getTime(first)
        if found:
            MyTime.setTime(found[0])
        for line in fh:
            lines += 1
            fails = flt.processLine(line.rstrip("\n"))
            last = flt._Filter__lastDate  # the time of this line, as the filter read it
            if last:
                MyTime.setTime(last)
            for (_, ip, t, fail) in fails:
                key = str(ip)
                if jail.banned.get(key, 0) > t:
                    continue  # dropped by the ban
                failures += 1
                if fm.addFailure(FailTicket(ip, t, data=fail)) >= fm.getMaxRetry():
                    try:
                        ticket = fm.toBan(ip)
                    except FailManagerEmpty:
                        continue
                    jail.putFailTicket(ticket)
                    banned_ips.add(key)
                if lines % 100 == 0:
                    flt.performSvc()
    truth = json.load(open(truth_path))
    attackers = set(truth["attackers"])
    near = set(truth["near_misses"])
    print(json.dumps({
        "program": "fail2ban",
        "lines": lines,
        "failures_counted": failures,
        "bans": jail.bans,
        "banned_ips": len(banned_ips),
        "attackers_found": len(banned_ips & attackers),
        "attackers": len(attackers),
        "near_misses_banned": len(banned_ips & near),
        "false_positives": len(banned_ips - attackers),
        "banned": sorted(banned_ips),
    }))


if __name__ == "__main__":
    main()
