"""``condor_advertise``: send ClassAds from a file (or standard input) to the collector(s) with
an update or invalidate command, as HTCondor's ``advertise.cpp`` does: ``-tcp``/``-udp``,
``-multiple`` (ads separated by blank lines), ``-pool``, ``-`` for stdin, and when no command is
given, one guessed from the first ad's ``MyType``.  Prints ``Sent N of M ad(s) to COLLECTOR.``.

Parsing (:func:`parse_ads`) is pure and line-oriented like the real tool's (``name = expr``
per line, ``#`` comments); sending goes through ``htcondor2.Collector.advertise``.
"""
from __future__ import annotations

import re
import socket
import sys
from typing import Sequence

import classad2

from condor_sim.tools.common import ArgCursor, ToolError, run_tool

# the collector commands the real usage lists, in its order (UPDATE_, MERGE_, INVALIDATE_)
COMMANDS = (
    "UPDATE_STARTD_AD", "UPDATE_SCHEDD_AD", "UPDATE_MASTER_AD", "UPDATE_CKPT_SRVR_AD",
    "UPDATE_SUBMITTOR_AD", "UPDATE_COLLECTOR_AD", "UPDATE_LICENSE_AD", "UPDATE_STORAGE_AD",
    "UPDATE_NEGOTIATOR_AD", "UPDATE_HAD_AD", "UPDATE_AD_GENERIC", "UPDATE_STARTD_AD_WITH_ACK",
    "UPDATE_GRID_AD", "UPDATE_ACCOUNTING_AD", "UPDATE_OWN_SUBMITTOR_AD", "MERGE_STARTD_AD",
    "INVALIDATE_STARTD_ADS", "INVALIDATE_SCHEDD_ADS", "INVALIDATE_MASTER_ADS",
    "INVALIDATE_CKPT_SRVR_ADS", "INVALIDATE_SUBMITTOR_ADS", "INVALIDATE_COLLECTOR_ADS",
    "INVALIDATE_LICENSE_ADS", "INVALIDATE_STORAGE_ADS", "INVALIDATE_NEGOTIATOR_ADS",
    "INVALIDATE_HAD_ADS", "INVALIDATE_ADS_GENERIC", "INVALIDATE_GRID_ADS",
    "INVALIDATE_ACCOUNTING_ADS",
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def usage(prog: str, opt: str | None) -> str:
    out = [f"Usage: {prog} [options] <update-command> [<classad-filename>]\n",
           "Where options are:\n",
           "    -help             Display options\n",
           "    -version          Display Condor version\n",
           "    -pool <hostname>  Use this central manager\n",
           "    -debug            Show extra debugging info\n",
           "    -tcp              Ship classad via TCP (default)\n",
           "    -udp              Ship classad via UDP\n",
           "    -multiple         Publish multiple ads, separated by blank lines\n"]
    if opt in ("all", "cmd"):
        out.append("\nAnd <update-command> is one of:\n")
        out += [f"    {c}\n" for c in COMMANDS]
    out.append("\nIf <classad-filename> does not exist or is -, classads will be read from "
               "standard input\n")
    out.append(f"Example: {prog} -debug UPDATE_STORAGE_AD adfile\n\n")
    return "".join(out)


def _starts(arg: str, word: str) -> bool:
    """``strncmp(arg, word, strlen(arg)) == 0``: ``arg`` is a prefix of ``word``."""
    return word.startswith(arg)


def parse_ads(text: str, multiple: bool) -> list[classad2.ClassAd] | None:
    """The ads in ``text`` (old syntax, one ``name = expr`` per line); with ``multiple`` a blank
    line ends an ad.  None when a line does not parse."""
    ads, ad = [], classad2.ClassAd()
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if multiple and line == "":
            if len(ad):
                ads.append(ad)
            ad = classad2.ClassAd()
            continue
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        name, eq, rhs = stripped.partition("=")
        name = name.strip()
        if not eq or not _NAME.match(name):
            return None
        try:
            ad[name] = classad2.ExprTree(rhs)
        except Exception:
            return None
    if len(ad):
        ads.append(ad)
    return ads


def guess_command(ad: classad2.ClassAd) -> str:
    my_type = ad.get("MyType")
    if not isinstance(my_type, str) or not my_type:
        raise ToolError("MyType not set in ad, aborting.\n")
    my_type = my_type.upper()
    if my_type == "GENERIC":
        return "UPDATE_AD_GENERIC"
    command = f"UPDATE_{my_type}_AD"
    return command if command in COMMANDS else "UPDATE_AD_GENERIC"


def local_ip() -> str:
    """The IPv4 address the real tool puts in a missing ``MyAddress``."""
    try:
        import htcondor2
        iface = htcondor2.param.get("NETWORK_INTERFACE") or ""
        if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", iface):
            return iface
    except Exception:
        pass
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def collector_names(pool: str | None) -> list[str]:
    if pool:
        return [pool]
    import htcondor2
    raw = htcondor2.param.get("COLLECTOR_HOST") or ""
    return [n for n in re.split(r"[\s,]+", raw) if n]


def shown_name(host: str, collector) -> str:
    """The collector as the summary line names it: the configured host, or its located
    address when the configured port is 0 (found through the address file)."""
    if not host.endswith(":0"):
        return host
    try:
        import htcondor2
        ad = collector.locate(htcondor2.DaemonType.Collector)
        m = re.match(r"<([^:>?]+):(\d+)", ad.get("MyAddress", ""))
        if m:
            return f"{m.group(1)}:{m.group(2)}"
    except Exception:
        pass
    return host


def send(ads: list, command: str, use_tcp: bool, pool: str | None) -> tuple[str, str, int]:
    """Send to each collector; (stdout, stderr, rc)."""
    import htcondor2
    out, err, rc = [], [], 0
    for host in collector_names(pool):
        try:
            collector = htcondor2.Collector(host)
        except Exception as e:
            err.append(f"couldn't locate collector: {e}\n")
            rc = 1
            continue
        name = shown_name(host, collector)
        ok = 0
        try:
            collector.advertise(ads, command, use_tcp)
            ok = len(ads)
        except Exception:
            for ad in ads:          # retry one by one to count what got through
                try:
                    collector.advertise([ad], command, use_tcp)
                    ok += 1
                except Exception:
                    err.append(f"failed to send classad to {name}\n")
                    rc = 1
        out.append(f"Sent {ok} of {len(ads)} ad{'' if len(ads) == 1 else 's'} to {name}.\n")
    return "".join(out), "".join(err), rc


def _body(args: list[str]) -> int:
    prog = "condor_advertise"
    import htcondor2
    try:
        use_tcp = str(htcondor2.param.get("UPDATE_COLLECTOR_WITH_TCP", "true")).lower() \
            not in ("false", "0", "no")
    except Exception:
        use_tcp = True
    command, filename, pool, multiple = None, None, None, False
    cursor = ArgCursor(args)
    for a in cursor:
        if a in ("-help", "--help"):
            topic = cursor.peek()
            raise ToolError(usage(prog, "cmd" if topic is None else topic), rc=0)
        if a == "-pool":
            pool = cursor.take()
            if pool is None:
                raise ToolError("-pool requires an argument.\n\n" + usage(prog, None))
        elif _starts(a, "-tcp"):
            use_tcp = True
        elif _starts(a, "-udp"):
            use_tcp = False
        elif _starts(a, "-fake-private-ad"):
            pass
        elif _starts(a, "-multiple"):
            multiple = True
        elif a == "-version":
            from condor_sim.tools import condor_version
            return condor_version.main([])
        elif a == "-debug":
            pass
        elif not a.startswith("-") or a == "-":
            if command is None:
                if a not in COMMANDS:
                    raise ToolError(f"Unknown command name {a}\n\n" + usage(prog, "all"))
                command = a
            elif filename is None:
                filename = a
            else:
                raise ToolError(f"Extra argument: {a}\n\n" + usage(prog, None))
        elif _starts(a, "-many-connections"):
            pass
        else:
            raise ToolError(f"Unknown argument: {a}\n\n" + usage(prog, None))
    if command == "UPDATE_STARTD_AD_WITH_ACK":
        use_tcp = True
    if filename is None or filename == "-":
        filename, text = "(stdin)", sys.stdin.read()
    else:
        try:
            with open(filename, "rb") as f:
                text = f.read().decode("utf-8", errors="replace")
        except OSError as e:
            raise ToolError(f"couldn't open {filename}: {e.strerror}\n") from None
    ads = parse_ads(text, multiple)
    if ads is None:
        raise ToolError(f"couldn't parse ClassAd in {filename}\n")
    if not ads:
        raise ToolError(f"{filename} is empty\n")
    if command is None:
        command = guess_command(ads[0])
    for ad in ads:
        if "MyAddress" not in ad:
            ad["MyAddress"] = f"<{local_ip()}:0>"
    out, err, rc = send(ads, command, use_tcp, pool)
    sys.stdout.write(out)
    sys.stdout.flush()
    sys.stderr.write(err)
    return rc


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
