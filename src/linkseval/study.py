"""The study, typed and loaded once: config + codebook -> :class:`Study`.

Every default lives in the config schema (``workflow/schemas/config.schema.yaml``, shipped in
the package as ``linkseval/config.schema.yaml``) and nowhere else: :func:`with_defaults` fills a
config, or a part of one such as the ``analysis`` settings a job receives, from the schema's
``default:`` values, and :class:`Settings` (the analysis and inference settings) takes the
defaults of its fields from there too. Outcome labels come from the codebook, comparison rules
from :mod:`linkseval.comparisons`. Snakemake rules, CLI commands, the estimation, the
multilevel check, the descriptive figures and the report pages all read these objects (or
values derived from them) rather than raw config keys.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from linkseval.data.codebook import Codebook, Instrument

if TYPE_CHECKING:
    from linkseval.montecarlo import MCSettings

SCHEMA_FILE = "config.schema.yaml"
CONFIG_FILE = "config/config.yaml"  # the workflow's config (Snakefile: configfile)


@cache
def _schema_text() -> str:
    return resources.files("linkseval").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


@cache
def _parsed_schema() -> dict:
    # libyaml's loader where PyYAML has it (10x faster); every command parses the schema
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(_schema_text(), Loader=loader)  # noqa: S506 (a safe loader)


def schema() -> dict:
    """Return the config schema (a fresh copy: callers may change it)."""
    return copy.deepcopy(_parsed_schema())


def _node(path: tuple[str, ...]) -> dict:
    """Return the schema of the config key at ``path``.

    The schema of the config key at ``path``; ``"*"`` steps into ``additionalProperties``
    (e.g. ``("analysis", "comparisons", "*", "neighbours")``).
    """
    node = schema()
    for key in path:
        node = node["additionalProperties"] if key == "*" else node["properties"][key]
    return node


def with_defaults(value: Any, node: dict) -> Any:
    """Return ``value`` with the schema's defaults filled in.

    A copy of ``value`` with every missing key that ``node`` (a JSON schema) gives a
    ``default`` filled in, recursively (also inside ``additionalProperties`` objects, e.g. each
    comparison group's ``neighbours``). Values that are present are kept as they are.
    """
    if value is None and "default" in node and node.get("type") == "object":
        value = copy.deepcopy(node["default"])
    if not isinstance(value, dict):
        return copy.deepcopy(value)
    props = node.get("properties", {})
    extra = node.get("additionalProperties")
    out = {}
    for k, v in value.items():
        sub = props.get(k, extra if isinstance(extra, dict) else {})
        out[k] = with_defaults(v, sub)
    for k, sub in props.items():
        if k not in out and "default" in sub:
            out[k] = with_defaults(copy.deepcopy(sub["default"]), sub)
    return out


def section_defaults(*path: str) -> Any:
    """Return the schema default of the config key at ``path``.

    The schema default of the config key at ``path`` (objects: with their keys' defaults),
    e.g. ``section_defaults("analysis", "bootstrap", "seed")``.
    """
    node = _node(path)
    if "default" not in node:
        raise KeyError(f"config schema: no default for {'.'.join(path)}")
    return with_defaults(copy.deepcopy(node["default"]), node)


def schema_enum(*path: str) -> list:
    """Return the values the schema allows for the config key at ``path`` (its ``enum``)."""
    return list(_node(path)["enum"])


def analysis_config(cfg: dict | None) -> dict:
    """Return the ``analysis`` section (or the part a job receives) with the schema defaults."""
    return with_defaults(dict(cfg or {}), _node(("analysis",)))


def _default(*path: str):
    return field(default_factory=lambda: section_defaults(*path))


# --------------------------------------------------------------------------- parts of a study


@dataclass(frozen=True)
class Outcome:
    """One modelled outcome: its instrument, codebook id and codebook label."""

    instrument: str
    name: str
    label: str


@dataclass(frozen=True)
class Comparison:
    """Describe a comparison group.

    A comparison group: config key, the label the report shows and its rule
    (:data:`linkseval.comparisons.RULES`); ``matched`` also uses ``neighbours`` and
    ``match_on``.
    """

    name: str
    label: str
    rule: str
    neighbours: int = _default("analysis", "comparisons", "*", "neighbours")
    match_on: tuple[str, ...] = field(
        default_factory=lambda: tuple(section_defaults("analysis", "comparisons", "*", "match_on"))
    )

    @classmethod
    def from_config(cls, name: str, cfg: dict | Comparison) -> Comparison:
        """Build a comparison from its config mapping (missing keys take the schema defaults)."""
        if isinstance(cfg, Comparison):
            return cfg
        c = with_defaults(dict(cfg), _node(("analysis", "comparisons", "*")))
        rule = c.get("rule")
        if rule is None:
            from linkseval.errors import ConfigError

            raise ConfigError(f"analysis.comparisons.{name}: no rule")
        return cls(
            name=name,
            label=c.get("label", name),
            rule=rule,
            neighbours=int(c["neighbours"]),
            match_on=tuple(c["match_on"]),
        )


def comparisons_from_config(cfg: dict) -> dict[str, Comparison]:
    """Return a :class:`Comparison` for each comparison group of a config mapping."""
    return {name: Comparison.from_config(name, c) for name, c in cfg.items()}


def family_outcomes(cfg: dict) -> list[str]:
    """Return the ``family`` outcomes (config order, once each) that are modelled."""
    modelled = {o for outs in cfg.get("outcomes", {}).values() for o in outs}
    fam = list(dict.fromkeys(cfg.get("family", [])))
    return [o for o in fam if o in modelled] if "outcomes" in cfg else fam


@dataclass(frozen=True)
class Cleaning:
    """How extracts and the register are read (config ``cleaning``)."""

    practice_code_width: int = _default("cleaning", "practice_code_width")
    practice_code_pattern: str = _default("cleaning", "practice_code_pattern")
    max_missing_items: dict[str, int] = _default("cleaning", "max_missing_items")

    @classmethod
    def from_config(cls, cfg: dict | None) -> Cleaning:
        """Build the cleaning settings from the ``cleaning`` section (schema defaults filled)."""
        c = with_defaults(dict(cfg or {}), _node(("cleaning",)))
        return cls(
            practice_code_width=int(c["practice_code_width"]),
            practice_code_pattern=str(c["practice_code_pattern"]),
            max_missing_items={k: int(v) for k, v in c["max_missing_items"].items()},
        )


@dataclass(frozen=True)
class Scoring:
    """How respondents are scored and practice-years suppressed (config ``scoring``)."""

    min_respondents: int = _default("scoring", "min_respondents")
    min_items_per_theme: float = _default("scoring", "min_items_per_theme")
    percent_formula: str = _default("scoring", "percent_formula")

    @classmethod
    def from_config(cls, cfg: dict | None) -> Scoring:
        """Build the scoring settings from the ``scoring`` section (schema defaults filled)."""
        c = with_defaults(dict(cfg or {}), _node(("scoring",)))
        return cls(
            min_respondents=int(c["min_respondents"]),
            min_items_per_theme=c["min_items_per_theme"],
            percent_formula=str(c["percent_formula"]),
        )


@dataclass(frozen=True)
class Scatter:
    """How work is scattered over jobs; changes no estimate (``analysis.scatter_*``).

    ``comparisons``: one estimation job per outcome x comparison group; ``multilevel``: one
    multilevel job per outcome; ``ri_draws`` and ``ri_chunk_draws``: the opt-in scattered
    randomization inference (``analysis.randomization.scatter_draws``, ``scatter_chunk_draws``);
    ``placebo_assignments`` and ``placebo_chunk``: the opt-in scattered placebo study
    (``analysis.placebo.assignments``, ``scatter_assignments``).
    """

    comparisons: bool = _default("analysis", "scatter_comparisons")
    multilevel: bool = _default("analysis", "scatter_multilevel")
    ri_draws: int = _default("analysis", "randomization", "scatter_draws")
    ri_chunk_draws: int = _default("analysis", "randomization", "scatter_chunk_draws")
    placebo_assignments: int = _default("analysis", "placebo", "assignments")
    placebo_chunk: int = _default("analysis", "placebo", "scatter_assignments")

    @classmethod
    def from_config(cls, analysis: dict | None) -> Scatter:
        """Build the scatter settings from the ``analysis`` section (schema defaults filled)."""
        a = analysis_config(analysis)
        ri = a["randomization"]
        return cls(
            comparisons=bool(a["scatter_comparisons"]),
            multilevel=bool(a["scatter_multilevel"]),
            ri_draws=int(ri["scatter_draws"]),
            ri_chunk_draws=int(ri["scatter_chunk_draws"]),
            placebo_assignments=int(a["placebo"]["assignments"]),
            placebo_chunk=int(a["placebo"]["scatter_assignments"]),
        )


@dataclass(frozen=True)
class Settings:
    """Hold the analysis and inference settings.

    The analysis and inference settings (config ``analysis``). Field defaults are the
    schema's (``Settings()`` is the schema-default study; keyword arguments override).
    """

    baseline_year: int | None = _default("analysis", "baseline_year")
    scale: str = _default("analysis", "scale")  # model the % score ("percent") or the mean
    weights: str | None = _default("analysis", "weights")
    alpha: float = _default("analysis", "alpha")
    bootstrap_draws: int = _default("analysis", "bootstrap", "draws")
    bootstrap_seed: int = _default("analysis", "bootstrap", "seed")
    bootstrap_weights: str = _default("analysis", "bootstrap", "weights")
    ri_draws: int = _default("analysis", "randomization", "draws")
    ri_seed: int = _default("analysis", "randomization", "seed")
    main_comparison: str = _default("analysis", "main_comparison")
    comparisons: dict[str, Comparison] = _default("analysis", "comparisons")
    leave_one_out: bool = _default("analysis", "sensitivity", "leave_one_out")
    dose: bool = _default("analysis", "sensitivity", "dose")
    multilevel: bool = _default("analysis", "sensitivity", "multilevel")
    honest: dict = _default("analysis", "honestdid")
    placebo: dict = _default("analysis", "placebo")
    synthdid: dict = _default("analysis", "synthdid")
    callaway_santanna: dict = _default("analysis", "callaway_santanna")
    primary: dict = _default("analysis", "primary")
    family: list[str] = _default("analysis", "family")  # outcomes tested together (Holm/BH)
    estimators: list[str] = _default("analysis", "estimators")
    methods: list[str] = _default("analysis", "methods")

    def cs_options(self) -> dict:
        """Return the Callaway–Sant'Anna fit's options (``analysis.callaway_santanna``)."""
        c = self.callaway_santanna
        return {
            "control_group": c["control_group"],
            "anticipation": int(c["anticipation"]),
            "aggregations": tuple(c["aggregations"]),
            "cband": bool(c["uniform_band"]),
            "biters": int(c["band_draws"]),
        }

    def __post_init__(self) -> None:
        # rule dicts (a config's or a test's) become Comparison objects; a partial honestdid
        # mapping gets the schema's other keys
        """Convert comparison mappings and complete the honestdid settings."""
        object.__setattr__(self, "comparisons", comparisons_from_config(self.comparisons))
        honest = with_defaults(dict(self.honest), _node(("analysis", "honestdid")))
        object.__setattr__(self, "honest", honest)
        placebo = with_defaults(dict(self.placebo), _node(("analysis", "placebo")))
        object.__setattr__(self, "placebo", placebo)
        synthdid = with_defaults(dict(self.synthdid), _node(("analysis", "synthdid")))
        object.__setattr__(self, "synthdid", synthdid)
        cs = with_defaults(dict(self.callaway_santanna), _node(("analysis", "callaway_santanna")))
        object.__setattr__(self, "callaway_santanna", cs)
        primary = with_defaults(dict(self.primary), _node(("analysis", "primary")))
        if primary["comparison"] is None:
            primary["comparison"] = self.main_comparison
        if primary["alpha"] is None:
            primary["alpha"] = self.alpha
        object.__setattr__(self, "primary", primary)

    def primary_problems(self) -> list[str]:
        """Return what makes ``analysis.primary`` impossible to run (empty: it is fine)."""
        p, out = self.primary, []
        if p["comparison"] not in self.comparisons:
            out.append(
                f"analysis.primary.comparison {p['comparison']!r} is not a comparison group "
                f"(known: {list(self.comparisons)})"
            )
        if p["estimator"] not in self.estimators:
            out.append(
                f"analysis.primary.estimator {p['estimator']!r} is not in analysis.estimators"
            )
        if p["method"] not in self.methods:
            out.append(f"analysis.primary.method {p['method']!r} is not in analysis.methods")
        if p["alpha"] != self.alpha:
            out.append(
                f"analysis.primary.alpha {p['alpha']} differs from analysis.alpha {self.alpha}: "
                "the intervals are computed at analysis.alpha; set both to the pre-specified level"
            )
        return out

    def family_alpha(self, outcome: str) -> float | None:
        """Return the Bonferroni level α/k for an outcome of the family, else None.

        Bonferroni level α/k for an outcome of the k-outcome family, else None: intervals at
        1 − α/k for each of the k outcomes all cover their true effects with probability at
        least 1 − α (family-wise, simultaneous).
        """
        if outcome not in self.family:
            return None
        return self.alpha / len(self.family)

    @property
    def main(self) -> Comparison:
        """The main comparison group."""
        return self.comparisons[self.main_comparison]

    @classmethod
    def from_config(cls, cfg: dict) -> Settings:
        """Build the settings from the ``analysis`` config section.

        From the ``analysis`` config section, or the part of it a job receives; missing keys
        take the schema's defaults.
        """
        family = family_outcomes(cfg)
        a = analysis_config(cfg)
        boot, ri, sens = a["bootstrap"], a["randomization"], a["sensitivity"]
        return cls(
            baseline_year=a["baseline_year"],
            scale=a["scale"],
            weights=a["weights"],
            alpha=float(a["alpha"]),
            bootstrap_draws=int(boot["draws"]),
            bootstrap_seed=int(boot["seed"]),
            bootstrap_weights=boot["weights"],
            ri_draws=int(ri["draws"]),
            ri_seed=int(ri["seed"]),
            main_comparison=a["main_comparison"],
            comparisons=a["comparisons"],
            leave_one_out=bool(sens["leave_one_out"]),
            dose=bool(sens["dose"]),
            multilevel=bool(sens["multilevel"]),
            honest=a["honestdid"],
            placebo=a["placebo"],
            synthdid=a["synthdid"],
            callaway_santanna=a["callaway_santanna"],
            primary=a["primary"],
            family=family,
            estimators=list(a["estimators"]),
            methods=list(a["methods"]),
        )


InferenceSpec = Settings  # the name issue 16 uses


def outcome_labels(codebook: Codebook) -> dict[str, str]:
    """Outcome id -> label for every outcome of the codebook (themes, overall scores)."""
    labels: dict[str, str] = {}
    for ins in codebook.instruments.values():
        labels.update(ins.themes)
        if ins.overall:
            labels[ins.overall["id"]] = ins.overall.get("label", ins.overall["id"])
    return labels


# The analysis settings each job reads, sent to it as JSON (its Snakemake params): a job reruns
# when one of them changes and not when an unrelated value (e.g. the bootstrap draws) does.
# None: every setting except how work is scattered (scatter_*), which changes no estimate.
_PANEL = ("scale", "weights", "baseline_year", "comparisons", "main_comparison", "alpha")
JOB_SETTINGS: dict[str, tuple[str, ...] | None] = {
    "estimate": None,
    "multilevel": ("scale", "alpha", "main_comparison", "comparisons"),  # the main group only
    "placebo": (*_PANEL, "randomization", "placebo", "bootstrap"),  # bootstrap seed, weights
    "combine": (
        "family", "main_comparison", "alpha", "comparisons", "estimators", "methods", "primary",
    ),
    "index": ("family", "alpha", "main_comparison", "comparisons"),
    "describe": ("comparisons",),
    "practice": ("main_comparison", "comparisons"),
    "ri_chunk": _PANEL,
    "ri_gather": (*_PANEL, "family"),
    "twfe_weights": _PANEL,
}  # fmt: skip


@dataclass(frozen=True)
class Study:
    """The whole study: what to read, how to score, what to estimate, with which inference."""

    config: dict  # the effective config (schema defaults filled in), for provenance
    years: tuple[int, ...]
    instruments: tuple[str, ...]
    outcomes: tuple[Outcome, ...]  # modelled outcomes (analysis.outcomes of the instruments)
    labels: dict[str, str]  # every codebook outcome id -> its label
    settings: Settings
    raw_dir: str | None = None  # None: the embedded synthetic data
    register: str | None = None  # None: practices.csv in raw_dir
    codebook: str = _default("codebook")
    data_label: str | None = None
    cleaning: Cleaning = field(default_factory=Cleaning)
    scoring: Scoring = field(default_factory=Scoring)
    synthetic: dict = field(default_factory=dict)  # generator settings (linkseval.synthetic)
    monte_carlo: MCSettings | None = None
    scatter: Scatter = field(default_factory=Scatter)
    notes: tuple[str, ...] = ()  # what a run should tell the user (e.g. an unmodelled family)
    instrument_specs: dict[str, Instrument] = field(default_factory=dict)  # codebook's, by name

    @property
    def book(self) -> Codebook:
        """Return the study's codebook (its instruments; ``path``: the config's ``codebook``)."""
        return Codebook(dict(self.instrument_specs), self.codebook)

    @property
    def synthetic_data(self) -> bool:
        """Return whether the study runs on the embedded synthetic data (``raw_dir`` null)."""
        return self.raw_dir is None

    @property
    def comparisons(self) -> dict[str, Comparison]:
        """Return the comparison groups of the settings."""
        return self.settings.comparisons

    @property
    def main_comparison(self) -> Comparison:
        """Return the main comparison group."""
        return self.settings.main

    @property
    def comparison_labels(self) -> dict[str, str]:
        """Return the label of each comparison group, by config key."""
        return {k: c.label for k, c in self.comparisons.items()}

    @property
    def family(self) -> list[str]:
        """Return the outcome family of the settings."""
        return self.settings.family

    def label(self, outcome: str) -> str:
        """Return the label of ``outcome`` (the codebook's, else its name in title case)."""
        return self.labels.get(outcome, outcome.replace("_", " ").title())

    def job_settings(self, job: str) -> str:
        """Return the analysis settings ``job`` reads, as the JSON its command takes.

        Parameters
        ----------
        job : str
            A key of :data:`JOB_SETTINGS` (``estimate``, ``multilevel``, ``placebo``, ...).

        Returns
        -------
        str
            Sorted-key JSON of the effective ``analysis`` settings (schema defaults filled in)
            that the job's stage reads; :meth:`Settings.from_config` of it gives the job the same
            settings as the study for every field it uses.
        """
        a = self.config["analysis"]
        keys = JOB_SETTINGS[job]
        if keys is None:
            d = {k: v for k, v in a.items() if not k.startswith("scatter_")}
            d["randomization"] = {
                k: v for k, v in a["randomization"].items() if not k.startswith("scatter_")
            }
        else:
            d = {k: a[k] for k in keys if k in a}
        if job == "multilevel":  # the respondent-level check compares with the main group only
            d["comparisons"] = {a["main_comparison"]: a["comparisons"][a["main_comparison"]]}
        if job == "placebo":  # the placebo WCR draws are analysis.placebo.wild_draws
            d["bootstrap"] = {k: a["bootstrap"][k] for k in ("seed", "weights")}
        return json.dumps(d, sort_keys=True)

    def synthetic_settings(self) -> str:
        """Return the generator settings as the JSON ``linkseval synth --settings`` takes."""
        return json.dumps(self.synthetic, sort_keys=True)

    def monte_carlo_settings(self) -> str:
        """Return the Monte Carlo settings as the JSON the scattered Monte Carlo jobs take."""
        return json.dumps(asdict(self.monte_carlo), sort_keys=True)


def load_study(config: dict, codebook: Codebook | None = None) -> Study:
    """Build the :class:`Study` of a (validated) config and its codebook.

    Parameters
    ----------
    config : dict
        The whole config; missing keys take the schema's defaults.
    codebook : Codebook, optional
        The codebook (instruments, outcome labels); None: read the config's ``codebook`` file.

    Returns
    -------
    Study
        Years, instruments, the modelled outcomes with their labels, and the settings.

    Raises
    ------
    ConfigError
        If ``instruments`` names an instrument the codebook does not define,
        ``analysis.main_comparison`` is not one of ``analysis.comparisons``, or
        ``analysis.primary`` names a comparison, estimator or method the study does not run.
    LinksevalError
        If the codebook file cannot be read.
    """
    from linkseval.errors import ConfigError

    cfg = with_defaults(dict(config), schema())
    if codebook is None:
        from linkseval.data.codebook import load_codebook

        codebook = load_codebook(cfg["codebook"])
    unknown = [i for i in cfg["instruments"] if i not in codebook.instruments]
    if unknown:
        raise ConfigError(f"config 'instruments': {unknown} not defined in {cfg['codebook']}")
    a = cfg["analysis"]
    if a["main_comparison"] not in a["comparisons"]:
        from linkseval.errors import ConfigError

        raise ConfigError(
            f"analysis.main_comparison {a['main_comparison']!r} is not a comparison group of "
            f"analysis.comparisons ({', '.join(a['comparisons'])})"
        )
    labels = outcome_labels(codebook)
    instruments = tuple(cfg["instruments"])
    outcomes = tuple(
        Outcome(instrument, name, labels.get(name, name))
        for instrument, names in cfg["analysis"]["outcomes"].items()
        if instrument in instruments
        for name in names
    )
    settings = Settings.from_config(config.get("analysis", {}))
    problems = settings.primary_problems()
    if problems:
        from linkseval.errors import ConfigError

        raise ConfigError("; ".join(problems))
    from linkseval.montecarlo import MCSettings

    return Study(
        config=cfg,
        years=tuple(int(y) for y in cfg["years"]),
        instruments=instruments,
        outcomes=outcomes,
        labels=labels,
        settings=settings,
        raw_dir=cfg["raw_dir"],
        register=cfg["register"],
        codebook=cfg["codebook"],
        data_label=cfg["data_label"],
        cleaning=Cleaning.from_config(cfg["cleaning"]),
        scoring=Scoring.from_config(cfg["scoring"]),
        synthetic=cfg["synthetic"],
        monte_carlo=MCSettings.from_config(cfg["monte_carlo"]),
        scatter=Scatter.from_config(a),
        notes=tuple(family_notes(a)),
        instrument_specs=dict(codebook.instruments),
    )


def family_notes(analysis: dict) -> list[str]:
    """Return a note if ``analysis.family`` names outcomes that are not modelled (else none).

    E.g. outcomes narrowed on the command line: the family is what is modelled.
    """
    a = analysis_config(analysis)
    modelled = {o for outs in a["outcomes"].values() for o in outs}
    stray = [o for o in a["family"] if o not in modelled]
    if not stray:
        return []
    return [
        f"analysis.family {stray} not modelled (analysis.outcomes); Holm/BH and the "
        "family-wise intervals are across the family's modelled outcomes"
    ]


def load_study_file(
    config_path: str | Path,
    codebook_path: str | Path | None = None,
    *,
    base: str | Path | None = None,
    **overrides: Any,
) -> Study:
    """Load the study of a config file and its codebook: the one loader outside Snakemake.

    Parameters
    ----------
    config_path : str or Path
        The config YAML (e.g. ``config/config.yaml``); missing keys take the schema's defaults.
    codebook_path : str or Path, optional
        The codebook YAML; None: the config's ``codebook``.
    base : str or Path, optional
        The folder a relative ``codebook`` of the config is taken from (None: the working
        directory, as in a run).
    **overrides
        Top-level config keys that replace the file's (e.g. ``years=[2013, 2014]``).

    Returns
    -------
    Study
        As :func:`load_study` of the file's config.

    Raises
    ------
    ConfigError
        If the config is not a mapping or does not follow the schema, or as :func:`load_study`.
    """
    from linkseval.data.codebook import load_codebook

    config = yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {}
    config = {**config, **overrides}
    check_config(config, str(config_path))
    if codebook_path is None and base is not None:
        codebook_path = Path(base) / with_defaults(config, schema())["codebook"]
    return load_study(config, None if codebook_path is None else load_codebook(codebook_path))


def check_config(config: Any, where: str = "config") -> None:
    """Check a config against the schema (as Snakemake's ``validate`` does).

    Raises
    ------
    ConfigError
        Naming the first key that does not follow the schema.
    """
    import jsonschema

    from linkseval.errors import ConfigError

    if not isinstance(config, dict):
        raise ConfigError(f"{where}: not a mapping")
    try:
        jsonschema.validate(config, schema())
    except jsonschema.ValidationError as exc:
        key = ".".join(str(k) for k in exc.absolute_path) or "(top level)"
        raise ConfigError(f"{where}: {key}: {exc.message}") from exc
