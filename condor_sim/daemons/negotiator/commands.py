"""The negotiator's client-facing commands (``Matchmaker::*_commandHandler``), over
``self.accountant``: what ``htcondor2.Negotiator`` and condor_userprio send.

Payloads, as the real handlers read them: a getter sends nothing (or the user's name) and
gets one ad of numbered attributes; a setter sends the user's name and a value (a double
for the priority, factor and usage; an int for the times, ceiling and floor).  Setters
are ADMINISTRATOR, but SET_PRIORITYFACTOR is WRITE (the handler then wants an
administrator itself, and answers with an ad carrying ErrorCode).
"""
from __future__ import annotations

import time

import classad2

from ...cedar.classad_wire import format_line, get_ad, put_ad
from ...cedar.commands import Cmd
from ...command_table import command
from ...connection import ConnectionClosed
from ...security.perms import Perm

GET_PRIORITY_ROLLUP = 514
SET_CEILING = 525
SET_FLOOR = 530
QUERY_NEGOTIATOR_ADS = 50
QUERY_ACCOUNTING_ADS = 78


class NegotiatorCommands:
    """Mixed into the negotiator daemon; needs ``accountant``, ``log``, ``core`` and
    ``flush_accountant``."""

    accountant = None

    def _changed(self) -> None:
        self.flush_accountant()

    async def _send_ad(self, req, ad: dict) -> None:
        """One ad without the two legacy type strings (``PUT_CLASSAD_NO_TYPES``): the
        client reads it with getClassAdNoTypes."""
        msg = req.message()
        put_ad_no_types(msg, ad)
        await req.send(msg)

    # ------------------------------------------------------------------ getters
    @command(Cmd.GET_PRIORITY, perm=Perm.READ, name="GET_PRIORITY",
             has_payload=False)
    async def get_priority(self, req) -> None:
        self.log.log("Getting state information from the accountant")
        ad = self.accountant.report_state()
        self._changed()
        await self._send_ad(req, ad)

    @command(GET_PRIORITY_ROLLUP, perm=Perm.READ, name="GET_PRIORITY_ROLLUP",
             has_payload=False)
    async def get_priority_rollup(self, req) -> None:
        self.log.log("Getting state information from the accountant")
        ad = self.accountant.report_state(rollup=True)
        self._changed()
        await self._send_ad(req, ad)

    @command(Cmd.GET_RESLIST, perm=Perm.READ, name="GET_RESLIST")
    async def get_reslist(self, req) -> None:
        user = (await req.read()).get_str()
        self.log.log(f"Getting resource list of {user}")
        ad = self.accountant.report_resources(user)
        self.log.log("Getting state information from the accountant")
        await self._send_ad(req, ad)

    @command(QUERY_NEGOTIATOR_ADS, QUERY_ACCOUNTING_ADS, perm=Perm.READ)
    async def query_ads(self, req) -> None:
        """QUERY_ADS_commandHandler: our own ad, or one Accounting ad per record."""
        q = get_ad(await req.read())
        if req.cmd == QUERY_NEGOTIATOR_ADS:
            ads = [self.ad()]
        else:
            ads = self.accounting_query_ads()
            self._changed()
        constraint = q.lookup("Requirements") if "Requirements" in q else None
        projection = q.get("Projection")
        proj = [p for p in str(projection).replace(",", " ").split()] if isinstance(projection, str) and projection else None
        msg = req.message()
        for ad in ads:
            if constraint is not None:
                try:
                    if constraint.eval(classad2.ClassAd(ad)) is not True:
                        continue
                except Exception:
                    continue
            msg.put_int(1)
            put_ad(msg, ad, projection=proj, include_private=False)
        msg.put_int(0)
        await req.send(msg)

    def accounting_query_ads(self) -> list[dict]:
        """Accountant::ReportState(query): each record as stored, with Name, LastUpdate,
        the effective Priority, Ceiling, Floor and the group facts."""
        acct = self.accountant
        out = []
        for name in list(acct.customers):
            prio = acct.effective_priority(name)
            ad = {k: v for k, v in acct.customers[name].items()
                  if k not in ("UnchargedTime", "WeightedUnchargedTime", "MyType", "TargetType")}
            ad.update({"Name": name, "LastUpdate": acct.last_update, "Priority": prio,
                       "Ceiling": acct.ceiling(name), "Floor": acct.floor(name),
                       "IsAccountingGroup": acct.is_group(name),
                       "AccountingGroup": acct.group_of(name)})
            if acct.is_group(name):
                ad.update({"EffectiveQuota": 0.0, "ConfigQuota": 0.0, "SubtreeQuota": 0.0,
                           "GroupSortKey": 0.0, "SurplusPolicy": "byquota", "Requested": 0.0})
            out.append(ad)
        return out

    # ------------------------------------------------------------------ setters
    @command(Cmd.RESET_ALL_USAGE, perm=Perm.ADMINISTRATOR, name="RESET_ALL_USAGE",
             has_payload=False)
    async def reset_all_usage(self, req) -> None:
        self.log.log("Resetting the usage of all users")
        self.accountant.reset_all_usage(int(time.time()))
        self._changed()

    @command(Cmd.RESET_USAGE, perm=Perm.ADMINISTRATOR, name="RESET_USAGE")
    async def reset_usage(self, req) -> None:
        user = (await req.read()).get_str()
        self.log.log(f"Resetting the usage of {user}")
        self.accountant.reset_usage(user, int(time.time()))
        self._changed()

    @command(Cmd.DELETE_USER, perm=Perm.ADMINISTRATOR, name="DELETE_USER")
    async def delete_user(self, req) -> None:
        user = (await req.read()).get_str()
        self.log.log(f"Deleting accounting record of {user}")
        self.accountant.delete(user)
        self._changed()

    @command(Cmd.SET_PRIORITY, perm=Perm.ADMINISTRATOR, name="SET_PRIORITY")
    async def set_priority(self, req) -> None:
        r = await req.read()
        user, value = r.get_str(), r.get_double()
        self.log.log(f"Setting the priority of {user} to {value:f}")
        self.accountant.set_priority(user, value)
        self._changed()

    @command(Cmd.SET_PRIORITYFACTOR, perm=Perm.WRITE, name="SET_PRIORITYFACTOR")
    async def set_priority_factor(self, req) -> None:
        r = await req.read()
        user, value = r.get_str(), r.get_double()
        if self.is_admin(req):
            self.log.log(f"Setting the priority factor of {user} to {value:f}")
            self.accountant.set_factor(user, value)
            self._changed()
            reply = {"ErrorCode": 0}
        else:
            text = ("Not an administrator and authorization maps "
                    "(NEGOTIATOR_CLASSAD_USER_MAP_NAMES) is not set.")
            self.log.log(f"Failed to set priority factor: {text}")
            reply = {"ErrorCode": 1, "ErrorString": text}
        try:
            await self._send_ad(req, reply)
        except (ConnectionClosed, OSError):
            pass                      # a client that does not wait for the answer

    def is_admin(self, req) -> bool:
        authz = getattr(getattr(self.core, "security", None), "authz", None)
        if authz is None:
            return True
        return authz.verify(Perm.ADMINISTRATOR, req.user, req.peer_ip)[0]

    async def _user_and(self, req, kind: str):
        r = await req.read()
        user = r.get_str()
        return user, (r.get_double() if kind == "double" else r.get_int())

    @command(Cmd.SET_ACCUMUSAGE, perm=Perm.ADMINISTRATOR, name="SET_ACCUMUSAGE")
    async def set_accum_usage(self, req) -> None:
        user, value = await self._user_and(req, "double")
        self.log.log(f"Setting the accumulated usage of {user} to {value:f}")
        self.accountant.set_accum_usage(user, value)
        self._changed()

    @command(Cmd.SET_BEGINTIME, perm=Perm.ADMINISTRATOR, name="SET_BEGINTIME")
    async def set_begin_time(self, req) -> None:
        user, value = await self._user_and(req, "int")
        self.log.log(f"Setting the begin usage time of {user} to {value}")
        self.accountant.set_begin_time(user, value)
        self._changed()

    @command(Cmd.SET_LASTTIME, perm=Perm.ADMINISTRATOR, name="SET_LASTTIME")
    async def set_last_time(self, req) -> None:
        user, value = await self._user_and(req, "int")
        self.log.log(f"Setting the last usage time of {user} to {value}")
        self.accountant.set_last_time(user, value)
        self._changed()

    @command(SET_CEILING, SET_FLOOR, perm=Perm.ADMINISTRATOR)
    async def set_ceiling_or_floor(self, req) -> None:
        user, value = await self._user_and(req, "int")
        if req.cmd == SET_CEILING:
            self.log.log(f"Setting the ceiling of {user} to {value}")
            self.accountant.set_ceiling(user, value)
        else:
            self.log.log(f"Setting the floor of {user} to {value}")
            self.accountant.set_floor(user, value)
        self._changed()


def put_ad_no_types(w, ad: dict):
    lines = [format_line(k, v) for k, v in ad.items()]
    w.put_int(len(lines))
    for line in lines:
        w.put_string(line)
    return w
