"""TierModel: the gradient-cultivation ladder as a Mesa model.

One step is one calendar month.  ``step`` reads top-down: levers -> chain owners ->
firm rules -> exit and entry -> recognition batches -> records.  Firm state lives in
struct-of-arrays (``FirmArrays``); SMEs and chain owners are Mesa agents onto its rows.

Randomness: one ``SeedSequence(seed, spawn_key=(replicate,))`` per replicate (the
replicate-th child of ``SeedSequence(seed).spawn``); each process (growth, exit,
applications, ...) draws from its own child stream, one variate per firm row per step
(institution founding and a continuous tier's applications: only the variates below a
bound, ``variates.sparse_uniform``), so a policy that changes one process leaves the other
processes' draws unchanged (common random numbers).  Mesa's own RNG is seeded from the same sequence.
"""

from __future__ import annotations

import itertools

import mesa
import numpy as np

from sim.core import chains, government, rules, tiers, variates
from sim.core.agents import SME, ChainOwner, City, FirmAgent, Government, Ministry, Province, add_many, remove_many
from sim.core.calendar import Calendar, month_index
from sim.core.firms import NONE, SCHEMA, TIER_INDEX, FirmArrays, sme_mask
from sim.core.levers import REGION_SHIFT, SEGMENT_BITS, Effects, from_policy, segment_codes, segment_mask
from sim.core.population import KINDS, draw_attributes, draw_revenue, niche_draw, placed, synthesise
from sim.core.record import RunRecord, count_groups, group_mask, group_of, note_recognised
from sim.core.regions import NATIONAL, Ghosts, Regions, by_region, sum_by_region, take_top
from sim.core.schema import TIERS, CapacityConfig, RunConfig, TargetConfig, TierSchedule
from sim.core.variates import Sparse

F32 = np.float32
# (a new stream goes at the end: the i-th child of the replicate's sequence is the same for the others)
STREAMS = ("synth", "growth", "vol", "rd", "bunch", "ip", "inst", "exit", "entry", "apply", "review", "select", "region")
TITLED = ("srdi", "little_giant", "single_champion", "provincial_champion")


class TierModel(mesa.Model):
    """Firms climbing the ladder under a policy: ``TierModel(config, replicate)`` with a
    validated RunConfig (``sim.compose(...)``).  ``sim.TierModel`` (the config layer's
    subclass) composes by scenario and policy name, as ``mesa.batch_run`` drives it.
    ``records_only``: SME agents on demand with ``agents=auto`` (see ``materialise``)."""

    def __init__(self, config: RunConfig, replicate: int = 0, records_only: bool = False, **kwargs) -> None:
        ss = np.random.SeedSequence(config.seed, spawn_key=(replicate,))
        super().__init__(seed=int(ss.generate_state(1)[0]), **kwargs)
        self.config, self.replicate = config, replicate
        self.scenario, self.policy, self.criteria, self.params = config.scenario, config.policy, config.criteria, config.params
        self._review_criteria = tiers.review_criteria(self.criteria)  # holders are judged on their own title's criteria
        self.streams = dict(zip(STREAMS, (np.random.default_rng(s) for s in ss.spawn(len(STREAMS)))))
        self.calendar = Calendar(self.scenario.start, self.scenario.horizon)
        self.t_now = 0
        sc, fp = self.scenario, self.params.firms
        # each row's region (sim/core/regions.py), from its own stream: the other draws are a run's without
        # regions; a region at reduced scale is thinned, its kept rows weighted (then every count is weighted)
        self.regions = Regions.of(sc)
        self.weighted = not self.regions.uniform
        self.firms, self.kinds, self.niches, self.n_chains, owner_rows = synthesise(
            sc.population, sc.scale, fp, self.params.rd, self.params.chains, self.calendar.n_steps, self.streams["synth"],
            self.params.growth, self.regions, self.streams["region"])
        self.n_initial = self.firms.n
        self.ghosts = Ghosts() if self.weighted else None  # the other firms thinned rows stand for, in the markets
        self._add_ghosts(np.arange(self.n_initial), by_size=True)
        # the firms the initial rows stand for (at the view's scale): the base of the entry rate
        self._entry_base = float(self.firms.weight[: self.n_initial].sum(dtype=np.float64)) if self.weighted else self.n_initial
        _all_real(self.firms, slice(0, self.firms.n))
        self.capacity = self.firms.capacity
        self.levers = from_policy(self.policy, self.calendar)
        # the highest monthly chance of founding an R&D institution: the bound of its sparse variates
        self._inst_bound = float(rules.institution_prob_monthly(np.array([np.inf], dtype=F32), self.params.rd)[0])
        self.rev0 = self.firms.revenue.copy()
        self.emp0 = self.firms.employees.copy()
        self._initial_volatility()
        # agents
        self.owner_open = np.zeros(len(owner_rows), dtype=F32)
        self.owner_rows = owner_rows
        self.owner_chain = self.firms.chain[owner_rows].astype(np.int64)
        for slot, row in enumerate(owner_rows):
            ChainOwner(self, row, self.firms.chain[row], slot)
        # agents='auto': every SME an agent for a model built to be inspected (up to agent_limit),
        # on demand for a replicate run for its records only (simulate): a finished model stays
        # in Mesa's per-model agent-id counter, and its emptied agent registries keep their
        # size (measured: ~14 MB per Shandong replicate with all 37,871 SMEs as agents)
        self.materialise = (config.driver == "agent" or config.agents == "all"
                            or (config.agents == "auto" and not records_only and self.firms.n <= config.agent_limit))
        self._sme_agents: dict[int, SME] = {}
        if self.materialise:
            self._sme_agents.update(add_many(self, SME, np.flatnonzero(~self.firms.owner[: self.firms.n]).tolist()))
        self._governments()
        # records: simulated rows per month and region (the nation's: their sums, the properties below)
        T, K, R = self.calendar.n_steps, len(TIERS), self.regions.n
        dt = np.float64 if self.weighted else np.int64  # weighted rows: firms at the view's scale
        self.region_stock = np.zeros((T, R, K), dtype=dt)
        self.region_flows = np.zeros((T, R, K, len(tiers.FLOW_KINDS)), dtype=dt)
        self.region_alive = np.zeros((T, R), dtype=dt)
        # first titles per count group (record.count_groups): the targets' "newly cultivated firms"
        # (and those of the provinces' own targets, after the view's: a province's plans count their own firms)
        self._groups = count_groups(list(self.scenario.targets)
                                    + [t for prog in self.config.government.programmes.values() for t in prog["targets"]])
        self._group_masks = np.array([group_mask(g) for g in self._groups], dtype=np.uint8)
        self.region_firsts = np.zeros((T, R, len(self._groups)), dtype=dt)
        held = self.firms.titles[:, : self.firms.n] != NONE  # titles held at the start count as held before
        every = np.arange(self.firms.n)
        self._stock0 = sum_by_region(held.T, self.firms.region[every], R, self._w(every))  # (R, K) before the first month
        self._alive_r = self._in_regions(every)  # alive rows per region, kept at exits and entry
        self.firms.ever[: self.firms.n] |= (held.astype(np.uint8) << np.arange(K, dtype=np.uint8)[:, None]).sum(axis=0, dtype=np.uint8)
        self.batches: list[dict] = []
        self.cost = {name: 0.0 for name in self.policy.levers()}
        self._active_key: tuple | None = None
        self._reach: list[np.ndarray] = []
        self._all_codes = segment_codes(self.regions.n)  # segment bits, and the region above them in a view of several
        self._table = Effects.none(self._all_codes.size)
        self._codes = np.zeros(self.capacity, dtype=np.uint8)  # segment code per firm row
        # rows in use per code (weighted: firms at the view's scale), kept with _codes
        self._per_code = np.zeros(self._all_codes.size, dtype=np.float64 if self.weighted else np.int64)
        self._per_code[0] = self._entry_base
        self._covered = 0  # rows whose lever reach has been determined
        self._owners_key: tuple | None = None  # what the owners' last decisions read (owners_act)
        self._refresh = None  # rows whose rates are refreshed this month (slice or index array)
        self._refresh_flag = np.zeros(self.capacity, dtype=bool)  # the same, for the agent driver
        self._title_changed: list[np.ndarray] = []  # rows whose titles changed in this month's batches
        self._staged_from = self._staged_until = 0  # months whose entrants are drawn (entry, _draw_entrants)
        self.datacollector = mesa.DataCollector(
            model_reporters={"date": lambda m: m.calendar.date(m.t_now - 1),
                             "firms_alive": lambda m: int(m.alive_count[m.t_now - 1]),
                             **{f"stock_{tier}": (lambda m, k=k: int(m.stock[m.t_now - 1, k])) for k, tier in enumerate(TIERS)}})

    @property
    def stock(self) -> np.ndarray:
        """(T, K) titles held at month end, simulated rows, the nation (sum over regions)."""
        return self.region_stock.sum(axis=1)

    @property
    def flows(self) -> np.ndarray:
        """(T, K, 4) recognised, rereviewed, revoked, exited per month, simulated rows, the nation."""
        return self.region_flows.sum(axis=1)

    @property
    def firsts(self) -> np.ndarray:
        """(T, G) firms gaining a first title of each count group per month, simulated rows, the nation."""
        return self.region_firsts.sum(axis=1)

    @property
    def alive_count(self) -> np.ndarray:
        """(T,) firms alive at month end, simulated rows, the nation."""
        return self.region_alive.sum(axis=1)

    def _in_regions(self, rows: np.ndarray) -> np.ndarray:
        """How many of ``rows`` are in each region (R,): rows, or their weights in a weighted view."""
        if self.weighted:
            return by_region(self.firms.region[rows], self.regions.n, self.firms.weight[rows])
        return by_region(self.firms.region[rows] if self.regions.n > 1 else rows, self.regions.n)

    def _add_ghosts(self, rows: np.ndarray, by_size: bool = False) -> None:
        """The ghosts of the thinned ``rows`` (weight > 1; regions.Ghosts), their niches drawn
        from the ``region`` stream as the rows' own were: by niche weight, and at synthesis
        (``by_size``) a ghost too big for its niche moved to one large enough (``population.placed``,
        as the initial firms are placed by size; entrants are drawn by niche weight alone)."""
        if self.ghosts is None:
            return
        f, fp = self.firms, self.params.firms
        rows = rows[f.weight[rows] > 1.0]
        w = f.weight[rows]
        rng = self.streams["region"]
        niches = niche_draw(Ghosts.count(w), self.niches.k, fp.niche_zipf, rng)
        if by_size:
            rev = np.repeat(f.revenue[rows], (w - 1).astype(np.int64))
            total = float((f.revenue[: f.n] * f.weight[: f.n]).sum(dtype=np.float64))
            niches, _ = placed(rev, niches, self.niches, total, fp.niche_max_share, fp.market_coverage, rng)
        self.ghosts.add(rows, w, niches)

    def _w(self, rows) -> np.ndarray | None:
        """The weights of ``rows`` in a weighted view (None: every row has weight 1)."""
        return self.firms.weight[rows] if self.weighted else None

    def _count(self, rows) -> float:
        """Firms at the view's scale among ``rows``: their number, or their weight."""
        if self.weighted:
            return float(self.firms.weight[rows].sum(dtype=np.float64))
        return rows.stop - rows.start if isinstance(rows, slice) else int(np.size(rows))  # (slices of rows in use)

    def _governments(self) -> None:
        """The government agents (sim/core/agents.py) and the replicate's batch-size rule
        (``config.government``; under ``mixture`` drawn from the replicate's own stream).
        The nation: the Ministry sizes every batch; a province (population.region_share < 1):
        the Ministry its little-giant and champion batches, the Province the others; a city
        (province_share > 0): the City recommends the provincial batches' share (the Province
        agent is there, sizing nothing in the city view).  In a view of several provinces a
        province with programmes of its own (``government.programmes``) also has a Province
        agent, sizing those programmes' batches for its regions (``_runs``, ``_batch_parts``)."""
        cfg, pop = self.config, self.scenario.population
        self.gov_setting = government.setting(cfg.government, cfg.seed, self.replicate)
        # the targets of the view's own area (a province's target inside the national view waits for its programmes)
        chased = [t for t in list(self.scenario.targets) + list(self.scenario.plan_targets) if not t.region]
        provincial = tuple(t for t in TIERS if t not in Ministry.TIERS)
        if pop.region_share >= 1.0:
            owners = [Ministry(self, TIERS, chased)]
        elif pop.province_share > 0:
            owners = [Ministry(self, Ministry.TIERS, chased, cfg.government.national), Province(self, (), chased),
                      City(self, provincial, chased)]
        else:
            owners = [Ministry(self, Ministry.TIERS, chased, cfg.government.national), Province(self, provincial, chased)]
        self._gov_of = {tier: g for g in owners for tier in g.tiers}
        # a province's own programmes inside a view of several (government.programmes, attached by the config
        # layer): their schedules, and a Province agent sizing them toward the province's targets
        self._programmes: dict[str, dict[str, TierSchedule]] = {}
        self._prog_gov: dict[str, Province] = {}
        for p, prog in cfg.government.programmes.items():
            self._programmes[p] = {tier: _schedule(d) for tier, d in prog["tiers"].items()}
            self._prog_gov[p] = Province(self, tuple(self._programmes[p]), [TargetConfig(**t) for t in prog["targets"]], area=p)
        self._start: dict[tuple[str, str], float] = {}  # start batches of programmes without a record (_start_batch)

    def _sched(self, tier: str, area: str = "") -> TierSchedule:
        """``tier``'s schedule: the view's (``area`` ''), or a province's own programme's."""
        return self._programmes[area][tier] if area else self.scenario.tiers[tier]

    def _gov(self, tier: str, area: str = "") -> Government | None:
        """The government sizing ``tier``'s batches: the view's (``area`` ''), or a province's own."""
        return self._prog_gov[area] if area else self._gov_of.get(tier)

    def _runs(self, tier: str) -> list[str]:
        """Who runs ``tier``'s batches: '' (the view, if its schedule is enabled) and the provinces
        whose own programmes hold it, in that order."""
        sched = self.scenario.tiers.get(tier)
        return ([""] if sched is not None and sched.enabled else []) + [p for p, pr in self._programmes.items() if tier in pr]

    def batch_capacity(self, tier: str, year: int, t: int, area: str = "") -> float:
        """The capacity of ``tier``'s batch in ``year`` (simulated firms; inf = no bound).
        Years with a published batch up to the origin (``scenario.origin``; in a back-test the
        batches after ``until`` are dropped first): that batch.  A quota tier's later years
        are sized by its government's rule; unrecorded years before the origin of a tier with
        no recorded batch keep the scenario's ``quota_default`` (its stated assumption for that
        history); after the origin such a tier's rule starts from :meth:`_start_batch`.  A tier without a quota
        (criteria, selection rate) is bound by its eligible applicants only, unless
        ``government.imposed`` caps it in a year after the origin.  ``area``: a province's own
        programme of the tier (its schedule and record; its Province agent sizes it)."""
        sched, sc = self._sched(tier, area), self.scenario
        cap = sched.capacity
        origin_year = int(sc.origin[:4])
        if cap.rule != "quota":
            # a tier without a quota has none to size; an imposed batch after the record caps it
            # (a continuous tier's yearly figure is spread over its monthly batches)
            imposed = {} if area else self.config.government.imposed.get(tier, {})  # {year: firms} (validated)
            if year > origin_year and year in imposed:
                return float(imposed[year]) / (12 if sched.batch_month == 0 else 1) * sc.scale
            return tiers.capacity(cap, year, sc.scale)
        recorded = tiers.recorded_batches(cap, sc.origin)
        if year in recorded:
            return recorded[year] * sc.scale
        if not recorded and year <= origin_year:
            return tiers.capacity(cap, year, sc.scale)
        base = recorded if recorded else {origin_year: self._start_batch(tier, year, t, area)}
        return self._gov(tier, area).batch(tier, year, base, self._gaps(tier, year, t, area)) * sc.scale

    def _start_batch(self, tier: str, year: int, t: int, area: str = "") -> float:
        """The batch a programme without any recorded batch starts from (firms, real units; the
        base of its rule, fixed at its first batch after the origin): the pace its targets need
        then — the largest per-batch need, as a plan is laid out — or, for a tier no target
        counts (national leading enterprises, Liaocheng's champions), the scenario's
        ``quota_default``."""
        key = (tier, area)
        if key not in self._start:
            need = max((g.need() for g in self._gaps(tier, year, t, area)), default=0.0)
            self._start[key] = need if need > 0 else float(self._sched(tier, area).capacity.quota_default)
        return self._start[key]

    def _gaps(self, tier: str, year: int, t: int, area: str = "") -> list[government.Gap]:
        """The targets on ``tier`` its government holds, as seen now (real units): the gap
        to the threshold after the re-review losses the government expects before the deadline
        (holders due, times 1 - the tier's rereview_pass; stock targets), the tier's batches
        left to the deadline, its share of the gap (its last batch over the last batches of
        the target's tiers) and the share of a new batch surviving to the deadline.  ``area``: a
        province's own programme, whose targets count the province's firms only."""
        sc, s = self.scenario, self.scenario.scale
        f, n = self.firms, self.firms.n
        sched, start = self._sched(tier, area), month_index(sc.start)
        validity = int(round(self.criteria.validity_years * 12))
        bm = sched.batch_month or 12
        codes = list(self.regions.areas()[area]) if area else slice(None)  # the regions the targets count
        inside = np.isin(f.region[:n], codes) if area else np.ones(n, dtype=bool)
        stock_r, flows_r, firsts_r = (self.region_stock[:, codes].sum(axis=1), self.region_flows[:, codes].sum(axis=1),
                                      self.region_firsts[:, codes].sum(axis=1)) if area else (self.stock, self.flows, self.firsts)
        out = []
        for tg in self._gov(tier, area).targets:
            # a target announced after the end of the record was unknown to a forecast made then
            if tier not in tg.tiers or (tg.announced and tg.announced > sc.origin):
                continue
            dl = month_index(tg.deadline)
            left = government.batches_left(tg.deadline, year, bm)
            if left <= 0:
                continue
            ks = [TIER_INDEX[x] for x in tg.tiers if x in TIER_INDEX]
            now_flow = flows_r[t, :, 0] - flows_r[t, :, 2] - flows_r[t, :, 3]
            losses, retention = 0.0, 1.0
            if tg.metric == "stock":
                stock_now = (stock_r[t - 1] if t > 0 else (f.titles[:, :n][:, inside] != NONE).sum(axis=1)) + now_flow
                count = float(stock_now[ks].sum()) / s
                for k, x in zip(ks, tg.tiers):
                    rec = f.titles[k, :n]
                    due = self._count(np.flatnonzero((rec != NONE) & (rec + start + validity <= dl) & inside))
                    losses += due * (1.0 - self.params.recognition.rereview_pass[x]) / s
                q = government.reviews_due(year, left, bm, validity, dl)
                retention = government.retention(self.params.recognition.rereview_pass[tier], q, left)
            else:
                w0 = max(0, month_index(tg.counted_from or sc.window_start) - start)
                g = group_of(tg.tiers)
                if tg.count == "firms" and g in self._groups:
                    count = float(firsts_r[w0:t + 1, self._groups.index(g)].sum()) / s
                else:
                    count = float(flows_r[w0:t + 1, ks, 0].sum()) / s
            lasts = {x: self._last_batch(x, year, area) for x in tg.tiers
                     if (area and x in self._programmes[area]) or (x in sc.tiers and sc.tiers[x].enabled)}
            total = sum(v for v in lasts.values() if v)
            share = (lasts.get(tier) or 0.0) / total if total > 0 else 1.0 / max(1, len(lasts))
            out.append(government.Gap(float(tg.threshold) - count + losses, left, share, retention))
        return out

    def _last_batch(self, tier: str, year: int, area: str = "") -> float | None:
        """The last batch of ``tier`` before ``year`` (firms, real units): decided, else recorded
        up to the origin, else its start batch (:meth:`_start_batch`; quota_default before that
        is set), None for a tier without a quota.  ``area``: a province inside a view of several —
        its own programme's batch, or its share of MIIT's (its last quota, else its record)."""
        if area and tier not in self._programmes[area]:
            last = int(self.scenario.origin[:4])
            got = {y: q for y, q in getattr(self._gov_of.get(tier), "allocated", {}).get(tier, {}).get(area, {}).items() if y < year}
            rec = {y: q for y, q in self.config.government.programmes[area]["records"].get(tier, {}).items() if y < year and y <= last}
            got = got or rec
            return got[max(got)] if got else None
        cap = self._sched(tier, area).capacity
        if cap.rule != "quota":
            return None
        g = self._gov(tier, area)
        decided = {y: b for y, b in (g.decided[tier].items() if g is not None else ()) if y < year}
        if decided:
            return decided[max(decided)]
        rec = {y: q for y, q in tiers.recorded_batches(cap, self.scenario.origin).items() if y < year}
        return rec[max(rec)] if rec else self._start.get((tier, area), float(cap.quota_default))

    def _initial_volatility(self) -> None:
        """The first year's growth volatility (later years: January in firm_month)."""
        f, n = self.firms, self.firms.n
        age = rules.age_years(0, f.birth[:n])
        e = self.streams["vol"].standard_exponential(n, dtype=F32)
        f.vol[:n] = rules.monthly_volatility(rules.laplace_scale(f.revenue[:n], age, self.params.growth), e)

    # ------------------------------------------------------------------ the month
    # The month, in order (ODD §3 describes each sub-step under these names; a test holds it to this).
    STEP_PLAN = ("apply_levers", "owners_act", "chain_opening", "draw", "refresh_rates", "move_firms", "exit_firms",
                 "entry", "recognise", "record")

    def step(self) -> None:
        t = self.t_now
        self.apply_levers(t)           # effects of the active levers; which rows need new rates
        self.owners_act()              # chain owners set their opening
        self.chain_opening()           # per-chain opening from the owners
        if self.config.driver == "agent":  # reference: draw .. exit_firms as each firm agent's own method
            self.agents.select(lambda a: isinstance(a, FirmAgent)).shuffle_do("month")  # the firms (governments act at batches)
        else:
            d = self.draw(self.firms.n, t)  # this month's firm-rule variates, one per row and stream
            self.refresh_rates(t, d)   # rates of the rows due (January: every row, with the R&D decision)
            self.move_firms(t, d)      # one month of growth, IP, institutions; December: revenue history
            self.exit_firms(t, d)      # exits at the refreshed hazard; their titles end
        self.entry(t)                  # new firms
        self.recognise(t)              # this month's recognition batches, in ladder order
        self.record(t)                 # stocks and alive firms at month end
        self.t_now += 1
        self.datacollector.collect(self)
        if self.t_now >= self.calendar.n_steps:
            self.running = False

    def run(self) -> RunRecord:
        """Step to the horizon and return the record in real units."""
        while self.running:
            self.step()
        return self.record_out()

    def release(self) -> None:
        """Free the firm state and the agents now; the records (``stock``, ``flows``,
        ``batches``, ``cost``) stay.  A Mesa model sits in reference cycles (it wraps its
        own ``step``; agents point at it), so without this a finished model's arrays
        (~300 MB nationally) wait for a full garbage collection: a worker process running
        replicate after replicate grew by a model each time, and joblib's loky replaced
        workers it saw growing (a national ensemble lost ~10% to restarts)."""
        self.remove_all_agents()
        self._sme_agents.clear()
        for name in ("firms", "kinds", "niches", "rev0", "emp0", "_codes", "_refresh_flag", "_refresh", "_title_changed", "_stage"):
            setattr(self, name, None)

    # ------------------------------------------------------------------ levers
    def apply_levers(self, t: int) -> None:
        """Effects of the active levers on the firms they reach.  The lever table is rebuilt
        and every firm refreshed when the set of active levers changes and each January
        (library reselection, size class); in other months only last month's entrants and
        the firms whose titles changed in last month's batches.  Costs accrue monthly on
        the reached firms still alive."""
        n = self.firms.n
        active = [lv for lv in self.levers if lv.active(t)]
        key = tuple(lv.name for lv in active)
        self._refresh = None
        if key != self._active_key or self.calendar.month(t) == 1:
            self._active_key = key
            self._lever_table(t, active)
            self._refresh = slice(0, n)
        else:  # only last month's entrants and the firms whose titles changed in last month's batches
            parts = [np.arange(self._covered, n)] if n > self._covered else []
            parts += self._title_changed
            if parts:  # ascending, each row once (a sort and a neighbour test: ~3x np.unique on these few rows)
                rows = np.sort(np.concatenate(parts))
                self._refresh = rows[np.concatenate(([True], rows[1:] != rows[:-1]))] if rows.size else rows
        self._title_changed = []
        if self._refresh is not None:
            self._lever_rows(self._refresh)
            if self.config.driver == "agent":
                self._refresh_flag[:] = False
                self._refresh_flag[self._refresh] = True
        self._covered = n
        if active:
            for lv, reach in zip(active, self._reach):  # exited firms have code 0
                self.cost[lv.name] += lv.intensity * lv.cost * float(self._per_code @ reach) / 12.0 / self.scenario.scale

    @property
    def effects(self) -> Effects:
        """This month's lever effects per firm row (all slots; rows the levers have not
        reached are neutral), looked up from the segment table — for inspection; the
        rules look up only the effects they use."""
        return self._table.take(self._codes)

    def _lever_table(self, t: int, active: list) -> None:
        """Apply the active levers once per segment combination (alive, SME, library,
        titled, chain member: 32 codes; times the regions in a view of several) into a lookup
        table; reselect the library."""
        f, n = self.firms, self.firms.n
        codes = self._all_codes
        self._table = Effects.none(codes.size)
        self._reach = []
        bits = {name: ((codes >> i) & 1).astype(bool) for i, name in enumerate(SEGMENT_BITS)}
        region_of_code = codes >> REGION_SHIFT
        areas = self.regions.areas()
        for lv in active:  # levers that define a segment others reach (the library) first
            if lv.defines_reach:
                lv.apply(self._table, bits["alive"], self.params.levers)
        alive = f.alive[:n]
        self.select_library(t, self._table.library_share, sme_mask(f.employees[:n], f.revenue[:n], self.params.firms) & alive)
        for lv in active:
            reach = segment_mask(lv.target, bits["sme"], bits["library"], bits["titled"], bits["chain"], bits["alive"])
            if lv.regions:  # the lever reaches its areas' firms only
                reach = reach & np.isin(region_of_code, [c for a in lv.regions for c in areas[a]])
            if not lv.defines_reach:
                lv.apply(self._table, reach, self.params.levers)
            self._reach.append(reach.astype(np.float64))

    def _lever_rows(self, rows) -> None:
        """The segment codes (alive, SME, library, titled, chain member) of ``rows`` (a slice
        or index array), which pick their lever effects from the table."""
        f = self.firms
        alive = f.alive[rows]
        titled = np.zeros(alive.shape[0], dtype=bool)
        for tier in TITLED:
            titled |= f.titles[TIER_INDEX[tier]][rows] != NONE
        code = alive.astype(np.uint8)  # bit i of the code is SEGMENT_BITS[i], built in uint8
        for bit, mask in enumerate((sme_mask(f.employees[rows], f.revenue[rows], self.params.firms), f.library[rows], titled,
                                    f.chain[rows] >= 0), start=1):
            code |= mask.view(np.uint8) << np.uint8(bit)
        if self.regions.n > 1:
            code |= f.region[rows].astype(np.uint8) << np.uint8(REGION_SHIFT)
        self._set_codes(rows, code)

    def _set_codes(self, rows, code: np.ndarray | int) -> None:
        """Set the segment codes of ``rows`` and keep the per-code row counts."""
        m, w = self._all_codes.size, self._w(rows)
        if isinstance(rows, slice) and rows == slice(0, self.firms.n):
            self._codes[rows] = code
            self._per_code[:] = np.bincount(self._codes[rows], weights=w, minlength=m)
            return
        self._per_code -= np.bincount(self._codes[rows], weights=w, minlength=m)
        self._codes[rows] = code
        self._per_code += np.bincount(self._codes[rows], weights=w, minlength=m)

    def select_library(self, t: int, share: float, sme: np.ndarray) -> None:
        """Each January (and when the library opens) pick the top ``share`` of SMEs by
        their SRDI score as the cultivation library."""
        f, n = self.firms, self.firms.n
        if share <= 0:
            f.library[:n] = False
            return
        if self.calendar.month(t) != 1 and f.library[:n].any():
            return
        rows = np.flatnonzero(sme)
        k = int(share * rows.size)
        f.library[:n] = False
        if k > 0:  # ranked among the SME rows only; nearly every row is an SME, so every row in use is
            # scored (the score of a row is its own) and the SMEs' scores picked: cheaper than copying their columns
            every = slice(0, n)
            market = tiers.market_for(f, self.niches, tiers.niche_markets(f, self.niches, self.params.firms.market_coverage, self.ghosts), every)
            score = tiers.srdi_score(f, tiers.FirmMetrics.of(f, t, self.params.firms), market, self.criteria)[rows]
            if self.weighted:  # the top share of the SMEs' weight (firms at the view's scale)
                w = f.weight[rows]
                f.library[rows[take_top(score, w, share * float(w.sum(dtype=np.float64)), 0.5)]] = True
            else:
                f.library[rows[np.argpartition(-score, k - 1)[:k]]] = True

    # ------------------------------------------------------------------ firm rules
    YEARLY = ("vol", "rd_u", "rd_z", "bunch")  # the January draws (the ones ``refresh`` reads)

    def draw(self, size: int, t: int) -> dict[str, np.ndarray | Sparse]:
        """This month's firm-rule variates, ``size`` per process stream: every firm row in use
        (vector driver; the number of rows does not depend on the policy, since entry counts
        do not) or one firm (agent driver).  January adds the yearly draws.  The institution
        variates are sparse (``variates.sparse_uniform``): only those below the highest
        monthly founding chance are drawn (~1.3% of the rows), the others cannot be events."""
        s = self.streams
        d = {"growth": s["growth"].standard_normal(size, dtype=F32), "ip": s["ip"].random(size, dtype=F32),
             "inst": variates.sparse_uniform(s["inst"], size, self._inst_bound), "exit": s["exit"].random(size, dtype=F32)}
        if self.calendar.month(t) == 1:
            d["vol"] = s["vol"].standard_exponential(size, dtype=F32)
            d["rd_u"] = s["rd"].random(size, dtype=F32)
            d["rd_z"] = s["rd"].standard_normal(size, dtype=F32)
            d["bunch"] = s["bunch"].random(size, dtype=F32)
        return d

    def chain_opening(self) -> None:
        """Per-chain opening from the owners' decisions this month (after owners act)."""
        self._opening = chains.chain_opening(self.owner_chain, self.owner_open, self.n_chains, self.params.chains.owners_per_chain)

    def refresh(self, idx, t: int, d: dict[str, np.ndarray] | None, own: bool) -> None:
        """Set the rates of rows ``idx``.  ``own`` (each January, and for entrants): the
        parts that depend on the firm alone — this year's volatility and R&D decision
        (January, from the variates ``d``), drift from size and age, IP per year, the
        institution and exit probabilities, employees.  Always: the parts its environment
        sets — the effective financing constraint (levers, chain owners, titles), the
        monthly drift, the capacity cap and the IP probability.  Environment parts change
        with titles, levers and chain opening, so they are refreshed each January, after
        batch months and when levers change; own parts once a year."""
        f, g, r, fp = self.firms, self.params.growth, self.params.rd, self.params.firms
        e, code = self._table, self._codes[idx]  # lever effects per segment code: _per_row(e.X, code)
        c_drift, c_ip, c_relief = chains.supplier_effects(f.chain[idx], self._opening, f.owner[idx], self.params.chains)
        held = {tier: f.titles[TIER_INDEX[tier]][idx] != NONE for tier in TITLED}
        titled = held["srdi"] | held["little_giant"]
        relief = 1 - (1 - _per_row(e.fin_relief, code)) * (1 - c_relief) * (1 - F32(fp.title_fin_relief) * titled)
        f.constraint[idx] = rules.financing_constraint(f.fin_base[idx], relief)
        if own:
            age = rules.age_years(t, f.birth[idx])
            young = rules.youth(age, g)  # (read by the volatility and the drift)
            if d is not None and self.calendar.month(t) == 1:
                if t > 0:  # this year's volatility (the first year's is drawn at construction)
                    f.vol[idx] = rules.monthly_volatility(rules.laplace_scale(f.revenue[idx], age, g, young), d["vol"])
                    f.ytd[idx] = 0.0
                self.rd_decision(idx, t, d)
            rev = f.revenue[idx]
            f.base_drift[idx] = rules.base_drift(rev, age, g, young)
            # IP and institutions come from the R&D really done, not the relabelled part
            f.ip_rate[idx] = rules.ip_rate(f.rd_real[idx], rev, r)
            f.p_inst[idx] = rules.institution_prob_monthly(f.rd_real[idx], r)
            f.hazard[idx] = rules.exit_hazard(age, rev, fp, g.ref_revenue)
            f.employees[idx] = rules.employees_for(rev, self.rev0[idx], self.emp0[idx], g)
        # the holder's multiplier changes with its titles, so it is applied at every refresh;
        # chain owners are persistent anchors of their chains: they do not exit
        mult = rules.holder_hazard_mult(held["srdi"], held["little_giant"], held["single_champion"] | held["provincial_champion"], fp)
        f.p_exit[idx] = rules.exit_prob_from_hazard(f.hazard[idx] * mult, fp) * ~f.owner[idx]
        env = rules.environment_drift(f.constraint[idx], _per_row(e.drift_add, code) + c_drift, g)
        f.drift_m[idx] = (f.base_drift[idx] + env) / F32(12.0)
        f.cap[idx] = F32(g.cap) + _per_row(e.cap_add, code)
        f.p_ip[idx] = rules.ip_prob(f.ip_rate[idx], _per_row(e.ip_mult, code) * c_ip)
        dead = np.flatnonzero(~f.alive[idx])
        if dead.size:
            _stop(f, dead + idx.start if isinstance(idx, slice) else np.asarray(idx)[dead])

    def constraint(self, idx) -> np.ndarray:
        """Effective financing constraint of rows ``idx`` (as of the last refresh)."""
        return self.firms.constraint[idx]

    def owners_act(self) -> None:
        """Each chain owner decides its opening this month (``ChainOwner.step``).  An owner's
        decision reads only the base opening, the chain-length system's push (the lever
        table) and whether it is alive, so when none of these changed since the last month
        the owners are not asked again: their openings stand (~1 ms a month nationally)."""
        if self.owner_rows.size:
            key = (self._table.chain_opening, self.params.chains.base_opening, self.firms.alive[self.owner_rows].tobytes())
            if key == self._owners_key:
                return
            self.agents_by_type[ChainOwner].do("step")
            self._owners_key = key

    def refresh_rates(self, t: int, d: dict[str, np.ndarray]) -> None:
        """Vectorised driver: new rates for the rows due a refresh this month (``apply_levers``
        decided which: every row each January and when the active levers change, else last
        month's entrants and the firms whose titles changed), with their variates of ``d``."""
        r = self._refresh
        if r is not None:
            self.refresh(r, t, {k: d[k][r] for k in self.YEARLY if k in d}, self.calendar.month(t) == 1)

    def firm_month(self, idx, t: int, d: dict[str, np.ndarray]) -> None:
        """Agent driver: this firm's refresh (if due) and one month of its rules, with its own
        variates ``d`` — the same functions the vectorised driver runs over all rows."""
        if self._refresh is not None and self._refresh_flag[idx[0]]:
            self.refresh(idx, t, d, self.calendar.month(t) == 1)
        self.firm_rules(idx, t, d)

    def firm_rules(self, idx, t: int, d: dict[str, np.ndarray]) -> None:
        """One month of growth, IP and institutions for rows ``idx`` (a slice or index array)
        at their refreshed rates, with the variates ``d`` (aligned with idx)."""
        f = self.firms
        # exited firms have zero rates and volatility (see exits/refresh), so no alive mask here
        step = rules.growth_step(f.drift_m[idx], f.vol[idx], d["growth"], f.cap[idx], f.ytd[idx], out=d["growth"])
        f.ytd[idx] += step
        f.revenue[idx] *= np.exp(step, out=step)
        f.ip[idx] += d["ip"] < f.p_ip[idx]
        founds = d["inst"].below(f.p_inst[idx])  # p_inst <= _inst_bound (rules.institution_prob_monthly)
        f.rd_inst[founds + idx.start if isinstance(idx, slice) else idx[founds]] = True
        if self.calendar.month(t) == 12:
            f.rev_y3[idx], f.rev_y2[idx], f.rev_y1[idx] = f.rev_y2[idx], f.rev_y1[idx], f.revenue[idx]

    def rd_decision(self, idx, t: int, d: dict[str, np.ndarray]) -> None:
        """January: R&D yes/no and the firm's own intensity (from last year's real one), then
        bunching at the gate of the title it aims at (``_bunch_targets``): reported and real
        intensity.  Starting the AR(1) from the real intensity keeps relabelling an annual
        accounting choice: a firm that stops aiming reports its real R&D again, and the real
        part of its move onto a gate persists."""
        f, r = self.firms, self.params.rd
        code = self._codes[idx]
        keep = f.rd_int[idx] > f.rd_real[idx]  # relabelled last year
        f.rd_prev[idx] = f.rd_int[idx]
        has, own = rules.rd_year(f.has_rd[idx], f.rd_real[idx], f.rd_target[idx], self.constraint(idx), _per_row(self._table.rd_mult, code),
                                 _per_row(self._table.rd_start_mult, code), d["rd_u"], d["rd_z"], r)
        f.has_rd[idx] = has
        f.rd_int[idx], f.rd_real[idx] = rules.bunch(own, self._bunch_targets(idx, t, has, own), d["bunch"], keep & has, r)

    def _bunch_targets(self, idx, t: int, has: np.ndarray, own: np.ndarray) -> list[tuple[np.ndarray | float, np.ndarray]]:
        """The (gate, ready) pairs of rows ``idx`` for :func:`rules.bunch`.  A firm aims at a
        title it does not hold and may enter (SRDI; the little giant for SRDI holders when
        ``requires_srdi``), as an SME where the title needs one.  It is ready at the title's
        R&D-intensity gate (SRDI 3%; little giant 3% at >= 100 M CNY revenue, 6% at 50-100 M,
        none below: that route has no intensity gate) if, with its intensity at the gate,
        it meets every other gate of ``tiers.GATES`` — "nearly": the years-in-niche gate
        counts the years it will have by December (this year's batches), and for the
        little giant's two-year test both years count as at the gate."""
        f, c, fp = self.firms, self.criteria, self.params.firms
        if isinstance(idx, slice) and idx.step in (None, 1):  # positions in idx -> rows, without an index of every row
            base = idx.start or 0

            def rows_at(pos: np.ndarray) -> np.ndarray:
                return pos + base
        else:
            rows_at = np.asarray(np.arange(f.n)[idx] if isinstance(idx, slice) else idx).__getitem__
        rev = f.revenue[idx]
        sme = sme_mask(f.employees[idx], rev, fp)
        srdi, lg = f.titles[TIER_INDEX["srdi"]][idx] != NONE, f.titles[TIER_INDEX["little_giant"]][idx] != NONE
        k_lg = c.little_giant
        # the gate by revenue (>= revenue_high: rd_gate_high, else >= revenue_mid: rd_gate_mid, else
        # none), looked up by (high, mid) bits: ~4x the nested np.where
        route = (rev >= k_lg.revenue_high).view(np.uint8) << np.uint8(1)
        route |= (rev >= k_lg.revenue_mid).view(np.uint8)
        lg_gate = np.array([np.inf, k_lg.rd_gate_mid, k_lg.rd_gate_high, k_lg.rd_gate_high], dtype=F32).take(route, mode="clip")
        aims = {"srdi": (F32(c.srdi.min_rd_intensity), has & ~srdi & (sme | (not c.srdi.sme_only))),
                "little_giant": (lg_gate, has & ~lg & (srdi | (not k_lg.requires_srdi)) & (sme | (not k_lg.sme_only)))}
        out = []
        for tier, (gate, aim) in aims.items():
            cand = np.flatnonzero(aim & rules.in_bunch_window(own, gate, self.params.rd))
            ready = np.zeros(rev.shape[0], dtype=bool)
            if cand.size:
                g = np.broadcast_to(gate, rev.shape)[cand].astype(F32)
                at = rows_at(cand)
                sub = f.take(at, rd_int=g, rd_prev=np.maximum(f.rd_prev[at], g))
                ready[cand] = tiers.GATES[tier](sub, tiers.niche_years(sub, t + 11), tiers.rd_spend(sub), c)
            out.append((gate, ready))
        return out

    def exits(self, idx, t: int, u: np.ndarray) -> np.ndarray:
        """Rows of ``idx`` that exit this month (the age- and size-dependent hazard set at the
        last refresh).  Their titles end, counted as 'exited'."""
        f = self.firms
        dies = np.flatnonzero(u < f.p_exit[idx])  # zero for exited firms and chain owners
        rows = dies + idx.start if isinstance(idx, slice) else np.asarray(idx)[dies]
        if rows.size:
            held = f.titles[:, rows] != NONE
            codes = f.region[rows]
            self.region_flows[t, :, :, 3] += sum_by_region(held.T, codes, self.regions.n, self._w(rows))
            self._alive_r -= self._in_regions(rows)
            f.titles[:, rows] = NONE
            f.alive[rows] = False
            f.library[rows] = False
            _stop(f, rows)
            self._set_codes(rows, 0)  # no lever reaches an exited firm
        return rows

    def move_firms(self, t: int, d: dict[str, np.ndarray]) -> None:
        """Vectorised driver: one month of the firm rules for all rows at once."""
        self.firm_rules(slice(0, self.firms.n), t, d)

    def exit_firms(self, t: int, d: dict[str, np.ndarray]) -> None:
        """Vectorised driver: the exits of all rows; exited SMEs' agents are removed."""
        rows = self.exits(slice(0, self.firms.n), t, d["exit"])
        if self._sme_agents:  # (none when SMEs are not materialised)
            remove_many([a for a in map(self._sme_agents.pop, rows.tolist(), itertools.repeat(None)) if a is not None])

    def entry(self, t: int) -> None:
        """This month's entrants.  Their counts and attributes depend on the parameters and the
        ``entry`` stream only (never on the firms), so they are drawn for the months up to the
        next January at once (``_draw_entrants``: one call per draw instead of one per month)."""
        if t >= self._staged_until:
            self._draw_entrants(t)
        k, n_small = self._staged_counts[t - self._staged_from]
        if k:
            self._enter(t, k, n_small)

    def _draw_entrants(self, t: int) -> None:
        """Entrant counts (Poisson) and small/SME splits (binomial) of months t .. the next
        January, then their attributes (``population.draw_attributes``: every month's SME
        entrants, then every month's small ones) and first-year volatility variates, into a
        staging FirmArrays that ``_enter`` copies from month by month."""
        rng, cal = self.streams["entry"], self.calendar
        end = next((u for u in range(t + 1, cal.n_steps) if cal.month(u) == 1), cal.n_steps)
        pop, p = self.scenario.population, self.params
        share_small = pop.n_small_tech / max(1, pop.n_sme + pop.n_small_tech)
        k = rng.poisson(rules.entrants_expected_monthly(self._entry_base, p.firms), size=end - t)
        n_small = rng.binomial(k, share_small)
        n_sme = k - n_small
        n_s = int(n_sme.sum())
        if self.weighted:  # thinned regions (Regions.thin): revenues and regions first, the other attributes for the kept rows
            total = int(k.sum())
            rev = np.concatenate([draw_revenue(n_s, "sme", True, p.firms, rng), draw_revenue(total - n_s, "small", True, p.firms, rng)])
            codes = self.regions.draw(total, self.streams["region"])
            keep, weight = self.regions.thin(codes, rev, self.streams["region"])
            kept = np.concatenate(([0], np.cumsum(keep)))  # kept rows before each entrant, month by month
            sme_at, small_at = np.cumsum(n_sme) - n_sme, n_s + np.cumsum(n_small) - n_small
            n_sme, n_small = kept[sme_at + n_sme] - kept[sme_at], kept[small_at + n_small] - kept[small_at]
            k, rows = n_sme + n_small, np.flatnonzero(keep)
            stage = FirmArrays.empty(rows.size)
            n_s = int(n_sme.sum())
            draw_attributes(stage, slice(0, n_s), "sme", t, True, p.firms, p.rd, self.niches.k, rng, p.growth, revenue=rev[rows[:n_s]])
            draw_attributes(stage, slice(n_s, rows.size), "small", t, True, p.firms, p.rd, self.niches.k, rng, p.growth,
                            revenue=rev[rows[n_s:]])
            stage.region[:], stage.weight[:] = codes[rows], weight
        else:
            stage = FirmArrays.empty(int(k.sum()))
            draw_attributes(stage, slice(0, n_s), "sme", t, True, p.firms, p.rd, self.niches.k, rng, p.growth)
            draw_attributes(stage, slice(n_s, stage.capacity), "small", t, True, p.firms, p.rd, self.niches.k, rng, p.growth)
            stage.region[:] = self.regions.draw(stage.capacity, self.streams["region"])
        e = rng.standard_exponential(stage.capacity, dtype=F32)
        self._stage, self._stage_e = stage, e
        # per month: (entrants, of which small); where its SME and small rows start in the stage
        self._staged_counts = list(zip(k.tolist(), n_small.tolist()))
        self._stage_at = list(zip((np.cumsum(n_sme) - n_sme).tolist(), (n_s + np.cumsum(n_small) - n_small).tolist()))
        self._staged_from, self._staged_until = t, end

    def _enter(self, t: int, k: int, n_small: int) -> None:
        f = self.firms
        f.reserve(k)
        if f.capacity != self.capacity:
            self._grow_side_arrays(f.capacity)
        start, n_sme = f.n, k - n_small
        a, b = self._stage_at[t - self._staged_from]
        stage, e = self._stage, self._stage_e
        for name in SCHEMA:  # the month's SME entrants, then its small ones (as drawn for month t)
            col, src = getattr(f, name), getattr(stage, name)
            col[start:start + n_sme] = src[a:a + n_sme]
            col[start + n_sme:start + k] = src[b:b + n_small]
        f.birth[start:start + k] = t  # newborn: age 0 and new to its niche this month
        f.niche_start[start:start + k] = t
        _all_real(f, slice(start, start + k))
        self.kinds[start:start + n_sme] = KINDS.index("sme")
        self.kinds[start + n_sme:start + k] = KINDS.index("small")
        f.n = start + k
        self._alive_r += self._in_regions(np.arange(start, f.n))
        self._add_ghosts(np.arange(start, f.n))
        self._per_code[0] += self._count(slice(start, f.n))  # entrants' code is 0 until next month's levers reach them
        # entrants' effect rows are neutral until next month's levers reach them
        self.rev0[start:f.n] = f.revenue[start:f.n]
        self.emp0[start:f.n] = f.employees[start:f.n]
        age = np.zeros(k, dtype=F32)
        ev = np.concatenate([e[a:a + n_sme], e[b:b + n_small]])
        f.vol[start:f.n] = rules.monthly_volatility(rules.laplace_scale(f.revenue[start:f.n], age, self.params.growth), ev)
        self.refresh(slice(start, f.n), t, None, own=True)  # their rates, without lever effects until next month
        if self.materialise:
            self._sme_agents.update(add_many(self, SME, range(start, f.n)))

    def _grow_side_arrays(self, new_cap: int) -> None:
        for name in ("rev0", "emp0"):
            old = getattr(self, name)
            new = np.zeros(new_cap, dtype=old.dtype)
            new[: old.shape[0]] = old
            setattr(self, name, new)
        kinds = np.zeros(new_cap, dtype=np.int8)
        kinds[: self.kinds.shape[0]] = self.kinds
        self.kinds = kinds
        self._codes = np.concatenate([self._codes, np.zeros(new_cap - self._codes.shape[0], dtype=np.uint8)])
        self._refresh_flag = np.zeros(new_cap, dtype=bool)
        self.capacity = new_cap

    # ------------------------------------------------------------------ recognition
    def recognise(self, t: int) -> None:
        year, month = self.calendar.year(t), self.calendar.month(t)
        due = [tier for tier in TIERS if any(tiers.due(tier, self._sched(tier, a), year, month) for a in self._runs(tier))]
        if not due:
            return
        f, n = self.firms, self.firms.n
        code = self._codes[:n]
        markets = None
        if any(x in tiers.NEEDS_MARKET for x in due):
            markets = tiers.niche_markets(f, self.niches, self.params.firms.market_coverage, self.ghosts)
        validity = int(round(self.criteria.validity_years * 12))
        rp, boost = self.params.recognition, self._table.review_boost
        for tier in due:  # in ladder order: a firm recognised SRDI this month can be a little giant next batch
            runs = self._runs(tier)  # the view and the provinces' own programmes (one batch month, validated)
            sched, k_tier = self._sched(tier, runs[0]), TIER_INDEX[tier]
            # variates for every firm row; review and selection draws are skipped where the
            # calendar or the config rules them out (never on the state, so policies stay paired)
            p_table = tiers.apply_probability(tier, sched, rp, self._table.apply_mult)  # per segment code
            # a continuous tier's monthly applications are rare: only the variates below a bound
            # of its apply probabilities are drawn (variates.sparse_uniform; the bound is a power
            # of 2, the same for policies whose probabilities differ a little)
            bound = variates.bound_above(float(p_table.max())) if sched.batch_month == 0 else 1.0
            u_apply = (variates.sparse_uniform(self.streams["apply"], n, bound) if bound < 1.0
                       else self.streams["apply"].random(n, dtype=F32))
            first = min(self._sched(tier, a).first_year for a in runs)
            reviews_possible = year * 12 + month - 1 >= first * 12 + validity
            u_review = self.streams["review"].random(n, dtype=F32) if reviews_possible else None
            # the capacity of each who runs the tier (a criteria tier has a finite one only if imposed)
            caps = {a: self.batch_capacity(tier, year, t, a) for a in runs}
            selects = any(self._sched(tier, a).capacity.rule != "criteria" or np.isfinite(c) for a, c in caps.items())
            u_select = self.streams["select"].random(n, dtype=F32) if selects else None
            applicants, is_due = tiers.candidates(tier, f, t, validity, p_table, code, u_apply, reviews_possible)
            # a tier only provinces' own programmes run (Shandong's provincial champions nationally): their rows only
            # (the variates above are drawn for every row all the same, so the streams do not depend on it)
            scope = self._programme_rows(tier) if "" not in runs else None
            if scope is not None:
                applicants, is_due = applicants[scope[applicants]], is_due[scope[is_due]]
            # criteria are evaluated for candidates only, and only those passing a cheap necessary
            # test; at a recorded batch for every alive non-holder (the pool on criteria alone),
            # of which the applicants are a part
            recorded = sched.batch_month != 0
            alive_nonholder = f.alive[:n] & (f.titles[k_tier, :n] == NONE)
            nonholders = np.flatnonzero(alive_nonholder if scope is None else alive_nonholder & scope) if recorded else applicants
            ok_all, review_ok = self._criteria(tier, t, nonholders, is_due, markets, rp.review_drops_sme_cap)
            if recorded:  # applicants are alive non-holders: a scatter and a gather (a searchsorted costs ~10x)
                in_pool = np.zeros(n, dtype=bool)
                in_pool[nonholders[ok_all]] = True
                ok = in_pool[applicants]
            else:
                ok = ok_all
            pool = nonholders[ok_all]  # the pool on criteria alone
            for area, sel, cap_p, sched_p in self._batch_parts(tier, year, caps, pool):
                if sel is None:  # the view's one batch
                    a, d, o, ro, pool_p = applicants, is_due, ok, review_ok, pool
                else:  # a province's part (of MIIT's batch, or its own programme's), or the rest: its rows only
                    in_a, in_d = sel[applicants], sel[is_due]
                    a, d, o, ro, pool_p = applicants[in_a], is_due[in_d], ok[in_a], review_ok[in_d], pool[sel[pool]]
                res = tiers.run_batch(tier, f, t, sched_p, year, self.scenario.scale, rp, a, d, o, ro, boost[code[d]],
                                      lambda rows, tier=tier: tiers.selection_priority(tier, f, rows, self.criteria, boost[code[rows]]),
                                      u_review, u_select, cap=cap_p, weighted=self.weighted)
                self._note_batch(t, tier, res)
                if sched.batch_month != 0:
                    self.batches.append({"date": self.calendar.date(t), "tier": tier, "region": area, "applicants": res.applicants,
                                         "eligible": res.eligible, "capacity": res.capacity, "recognised": res.recognised,
                                         "pool": self._count(pool_p), "rereviewed": res.rereviewed, "revoked": res.revoked,
                                         "failed": res.revoked - res.lapsed, "lapsed": res.lapsed})

    def _row_provinces(self) -> np.ndarray:
        """Per row in use, the index of its province in ``regions.province_names``."""
        return self.regions.province_codes().take(self.firms.region[: self.firms.n])

    def _programme_rows(self, tier: str) -> np.ndarray:
        """Mask of the rows in use in the provinces whose own programmes run ``tier``."""
        names = self.regions.province_names
        return np.isin(self._row_provinces(), [names.index(p) for p in self._runs(tier) if p])

    def _batch_parts(self, tier: str, year: int, caps: dict[str, float], pool: np.ndarray
                     ) -> list[tuple[str, np.ndarray | None, float, TierSchedule]]:
        """The batches ``tier``'s batch this month is run as: (area, its rows' mask or None for
        every row, capacity in simulated firms, schedule), from the capacities of who runs it
        (``caps``: '' the view, else a province's own programme).  One, the view's, unless MIIT's
        batch (a little-giant or champion quota) meets a view of several provinces — then one per
        province, with its quota (``Ministry.allocate``) — or provinces run their own programme of
        the tier: then one per such province and one for the rest of the view (if it runs the tier)."""
        reg = self.regions
        whole = reg.province_names[0] if len(reg.province_names) == 1 else NATIONAL
        own = [a for a in caps if a]
        if own:
            prov = self._row_provinces()
            parts = [(p, prov == reg.province_names.index(p), caps[p], self._sched(tier, p)) for p in own]
            if "" in caps:
                rest = [p for p in reg.province_names if p not in own]
                parts.append(("+".join(rest), ~self._programme_rows(tier), caps[""], self._sched(tier)))
            return parts
        cap, sched = caps[""], self._sched(tier)
        gov = self._gov_of.get(tier)
        if len(reg.province_names) == 1 or tier not in Ministry.TIERS or not isinstance(gov, Ministry) or not np.isfinite(cap):
            return [(whole, None, cap, sched)]
        prov = self._row_provinces()
        pools = {p: self._count(pool[prov[pool] == i]) for i, p in enumerate(reg.province_names)}
        quotas = gov.allocate(tier, year, cap, pools)
        return [(p, prov == i, quotas[p], sched) for i, p in enumerate(reg.province_names)]

    def _note_batch(self, t: int, tier: str, res: tiers.BatchResult) -> None:
        """A batch's results in the records: first titles, flows per region, changed title sets."""
        f, k, R = self.firms, TIER_INDEX[tier], self.regions.n
        chosen = res.chosen_rows
        if chosen.size:  # first titles of each count group (the targets' newly cultivated firms)
            self.region_firsts[t] += note_recognised(f.ever, chosen, k, self._group_masks, f.region[chosen] if R > 1 else None, R,
                                                     self._w(chosen))
        if tier in TITLED:  # title sets changed: these firms' rates and lever reach change
            self._title_changed += [res.chosen_rows, res.revoked_rows]
        self.region_flows[t, :, k, 0] += self._in_regions(res.chosen_rows)
        self.region_flows[t, :, k, 1] += self._in_regions(res.passed_rows)
        self.region_flows[t, :, k, 2] += self._in_regions(res.revoked_rows)

    def _criteria(self, tier: str, t: int, applicants: np.ndarray, due: np.ndarray, markets: np.ndarray | None,
                  drop_sme_cap: bool) -> tuple[np.ndarray, np.ndarray]:
        """Does each applicant meet ``tier``'s criteria now, and each due holder the criteria
        of its own title (``tiers.review_criteria``; with ``drop_sme_cap``: without the SME
        size cap, for the SME tiers)?  Masks aligned with ``applicants`` and ``due``."""
        f, c, rc = self.firms, self.criteria, self._review_criteria
        pa, pd = tiers.prefilter(tier, f, applicants, c, t), tiers.prefilter(tier, f, due, rc, t)
        rows = np.concatenate([applicants[pa], due[pd]])
        n_app = int(np.count_nonzero(pa))
        sub_market = None
        if tier in tiers.NEEDS_MARKET:
            ranks = None
            share = None
            if tier in tiers.NEEDS_RANKS:  # ranks (a sort) only for the rows whose share can pass the rank tests
                share = tiers.market_for(f, self.niches, markets, rows).nat_share
                nk = f.niche[rows]
                can = np.concatenate([tiers.rank_screen(tier, share[:n_app], nk[:n_app], self.niches, c),
                                      tiers.rank_screen(tier, share[n_app:], nk[n_app:], self.niches, rc)])
                ranks = np.full(rows.size, tiers.UNRANKED, dtype=np.int32)
                cap = max(tiers.rank_cap(tier, c), tiers.rank_cap(tier, rc))  # exact ranks only up to what can pass
                ranks[can] = tiers.region_ranks(f, rows[can], cap=cap, ghosts=self.ghosts)
            sub_market = tiers.market_for(f, self.niches, markets, rows, ranks, share=share)
        sub = f.take(rows)  # the columns the criteria read are copied once per part (below), on first use
        app, held = slice(None, n_app), slice(n_app, None)
        ok, review_ok = np.zeros(applicants.size, dtype=bool), np.zeros(due.size, dtype=bool)
        s_app = sub.part(app)  # the metrics of each part read its columns (those the tier's criteria need)
        ok[pa] = tiers.eligible(tier, s_app, tiers.FirmMetrics.of(s_app, t, self.params.firms),
                                sub_market.part(app) if sub_market is not None else None, c, gated=True)
        if rows.size > n_app:
            s_held = sub.part(held)
            m_held = tiers.FirmMetrics.of(s_held, t, self.params.firms)
            if drop_sme_cap and tier in ("innovative", "srdi", "little_giant"):
                m_held = _no_sme_cap(m_held)
            review_ok[pd] = tiers.eligible(tier, s_held, m_held, sub_market.part(held) if sub_market is not None else None, rc,
                                           gated=True)  # the rows passed the prefilter of these criteria
        return ok, review_ok

    # ------------------------------------------------------------------ records
    def record(self, t: int) -> None:
        fl = self.region_flows[t]
        before = self.region_stock[t - 1] if t > 0 else self._stock0
        self.region_stock[t] = before + fl[..., 0] - fl[..., 2] - fl[..., 3]
        self.region_alive[t] = self._alive_r

    def record_out(self) -> RunRecord:
        s = self.scenario.scale
        batches = []
        for b in self.batches:
            cap = b["capacity"]
            batches.append({**b, "applicants": b["applicants"] / s, "eligible": b["eligible"] / s, "recognised": b["recognised"] / s,
                            "pool": b["pool"] / s, "rereviewed": b["rereviewed"] / s, "revoked": b["revoked"] / s,
                            "failed": b["failed"] / s, "lapsed": b["lapsed"] / s,
                            "capacity": cap / s if np.isfinite(cap) else float("nan"),
                            "bound": "capacity" if np.isfinite(cap) and b["eligible"] > cap else "pool"})
        # real firms: each region's rows over its own scale; the nation: their sum in region order
        reg = self.regions
        stock, flows, alive, firsts = (reg.real(x) for x in (self.region_stock, self.region_flows, self.region_alive,
                                                              self.region_firsts))
        return RunRecord(self.calendar.dates(), stock.sum(axis=1), flows.sum(axis=1), alive.sum(axis=1), batches, dict(self.cost),
                         firsts.sum(axis=1), self._groups, self.gov_setting.as_dict(), reg.names, reg.areas(), stock, flows,
                         alive, firsts)

    # ------------------------------------------------------------------ agents
    def sme(self, row: int) -> SME:
        """The SME agent of firm ``row`` (created on demand when SMEs are not all materialised)."""
        agent = self._sme_agents.get(int(row))
        if agent is None:
            if not (0 <= row < self.firms.n) or not self.firms.alive[row] or self.firms.owner[row]:
                raise KeyError(f"firm row {row}: not an alive SME row (allowed: 0..{self.firms.n - 1}, alive, not a chain owner)")
            agent = self._sme_agents[int(row)] = SME(self, row)
        return agent

    def select_firms(self, mask: np.ndarray, limit: int | None = None) -> mesa.agent.AgentSet:
        """An AgentSet of the SME agents whose rows satisfy ``mask`` (materialised on demand)."""
        rows = np.flatnonzero(mask[: self.firms.n] & self.firms.alive[: self.firms.n] & ~self.firms.owner[: self.firms.n])
        if limit is not None:
            rows = rows[:limit]
        return mesa.agent.AgentSet([self.sme(int(r)) for r in rows], random=self.random)


def simulate(config: RunConfig, replicate: int = 0) -> RunRecord:
    """One replicate of ``config`` to the horizon: its record; the model is released."""
    model = TierModel(config=config, replicate=replicate, records_only=True)
    try:
        return model.run()
    finally:
        model.release()


def _schedule(d: dict) -> TierSchedule:
    """A programme's tier schedule from its plain data (government.programmes)."""
    return TierSchedule(**{**d, "capacity": CapacityConfig(**d["capacity"])})


def _per_row(table: np.ndarray, code: np.ndarray) -> np.ndarray | np.float32:
    """A lever effect per row: the entry of each row's segment code in ``table`` (codes < the table size:
    in range, so no bounds check), or the one value when every entry is the same (no lever
    moves it: no lookup over the rows)."""
    first = table[0]
    if (table == first).all():
        return first
    return table.take(code, mode="clip")


def _stop(f: FirmArrays, rows: np.ndarray) -> None:
    """Exited firms: no growth, arrivals or exit (their rows keep their last state)."""
    for name in ("vol", "drift_m", "p_ip", "p_inst", "p_exit"):
        getattr(f, name)[rows] = 0.0


def _all_real(f: FirmArrays, rows: slice) -> None:
    """New firms (synthesis, entry) report the R&D they really do: none relabelled yet."""
    f.rd_real[rows] = f.rd_int[rows]


def _no_sme_cap(m: tiers.FirmMetrics) -> tiers.FirmMetrics:
    return m.replace(sme=np.ones(m.n, dtype=bool))
