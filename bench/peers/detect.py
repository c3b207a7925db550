#!/usr/bin/python3
"""Helpers of bench/peers/run.sh.

detect.py secwatch MEASURE.json ALERTS.jsonl TRUTH DECODE_MEASURE_JSON
detect.py fail2ban MEASURE.json FAIL2BAN_OUT TRUTH DECODE_MEASURE_JSON
detect.py crowdsec - CROWDSEC_OUT TRUTH DECODE_MEASURE_JSON
    print one result line (JSON): times, peak RSS, ratios against the decode
    loop run just before, and the attacker IPs found.
detect.py table RESULTS.jsonl
    print the side-by-side table.
"""
import json
import sys

LINES = None


def result(name, meas, found, truth_path, decode):
    truth = json.load(open(truth_path))
    att, near = set(truth["attackers"]), set(truth["near_misses"])
    d = json.loads(decode)
    return {
        "program": name,
        "wall_seconds": meas["wall_seconds"],
        "cpu_seconds": meas["cpu_seconds"],
        "max_rss_mib": meas["max_rss_kib"] / 1024,
        "decode_wall_seconds": d["wall_seconds"],
        "decode_cpu_seconds": d["cpu_seconds"],
        "decode_rss_mib": d["max_rss_kib"] / 1024,
        # > 1: faster than the decode loop (more lines per second)
        "vs_decode_wall": d["wall_seconds"] / meas["wall_seconds"],
        "vs_decode_cpu": d["cpu_seconds"] / meas["cpu_seconds"],
        "attackers": len(att),
        "attackers_found": len(found & att),
        "near_misses_alerted": len(found & near),
        "false_positives": len(found - att),
    }


def main():
    what = sys.argv[1]
    if what == "table":
        rows = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
        hdr = ["program", "wall s", "CPU s", "vs decode loop (wall)", "vs decode loop (CPU)",
               "peak RSS MiB", "attackers found", "near misses alerted", "false positives"]
        out = [hdr]
        dec = [r for r in rows]
        if dec:
            med = sorted(r["decode_wall_seconds"] for r in dec)[len(dec) // 2]
            medc = sorted(r["decode_cpu_seconds"] for r in dec)[len(dec) // 2]
            rss = max(r["decode_rss_mib"] for r in dec)
            out.append(["encoding/json decode loop (median of the runs before each program)",
                        "%.2f" % med, "%.2f" % medc, "1.00x", "1.00x", "%.1f" % rss, "-", "-", "-"])
        for r in rows:
            def ratio(x):
                return ("%.2fx" % x) if x >= 1 else ("1/%.1f" % (1 / x))
            out.append([r["program"], "%.2f" % r["wall_seconds"], "%.2f" % r["cpu_seconds"],
                        ratio(r["vs_decode_wall"]), ratio(r["vs_decode_cpu"]), "%.1f" % r["max_rss_mib"],
                        "%d of %d" % (r["attackers_found"], r["attackers"]),
                        str(r["near_misses_alerted"]), str(r["false_positives"])])
        widths = [max(len(row[i]) for row in out) for i in range(len(hdr))]
        for row in out:
            print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        print("(ratio: lines per second against the decode loop run just before; 1/N: N times slower)")
        return
    meas_path, out_path, truth_path, decode = sys.argv[2:6]
    if what == "secwatch":
        meas = json.load(open(meas_path))
        found = set()
        for line in open(out_path):
            a = json.loads(line)
            if a.get("rule") == "mcp-auth-failure-burst":
                found.add(a["group"]["client_ip"])
    elif what == "fail2ban":
        meas = json.load(open(meas_path))
        rep = json.loads(open(out_path).read().strip().splitlines()[-1])
        found = set(rep["banned"])
    elif what == "crowdsec":
        rep = json.loads(open(out_path).read().strip().splitlines()[-1])
        meas = {"wall_seconds": rep["wall_seconds"], "cpu_seconds": rep["cpu_seconds"], "max_rss_kib": rep["max_rss_kib"]}
        found = set(rep["alerted"])
    else:
        sys.exit("unknown " + what)
    print(json.dumps(result(what, meas, found, truth_path, decode)))


if __name__ == "__main__":
    main()
