"""What differs between a KOI's and a TOI's discovery report: the catalogue's words, its
dispositions, its tables, and what the warehouse stores beside the score. Pure data: the report's
reading (:mod:`scoring.reports.content`), words (:mod:`~scoring.reports.text`) and drawing
(:mod:`~scoring.reports.pdf`) are one code path for both missions, told apart only by this."""

from __future__ import annotations

from dataclasses import dataclass

# Population groups of the period-radius chart and the status colours.
PLANET, CANDIDATE, FALSE_POSITIVE = "planet", "candidate", "false positive"


@dataclass(frozen=True)
class Disposition:
    status: str  # the status line: "a CANDIDATE — not a confirmed planet"
    group: str  # PLANET, CANDIDATE or FALSE_POSITIVE
    phrase: str  # in a sentence: "is {phrase} of the star", "classified as {phrase}"


#: A table row of the star or the signal: label, mart column, significant digits, unit.
Row = tuple[str, str, int, str]

STELLAR_ROWS: tuple[Row, ...] = (
    ("effective temperature", "stellar_teff_k", 4, "K"),
    ("surface gravity log g", "stellar_logg_cgs", 3, "dex (cgs)"),
    ("radius", "stellar_radius_solar", 3, "R☉"),
    ("density (catalogue)", "stellar_density_catalogue_gcc", 3, "g/cm³"),
)
PERIOD_ROW: Row = ("orbital period", "orbital_period_days", 6, "d")
TRANSIT_ROWS: tuple[Row, ...] = (
    ("transit duration", "transit_duration_hours", 3, "h"),
    ("transit depth", "transit_depth_ppm", 4, "ppm"),
)
PLANET_ROWS: tuple[Row, ...] = (
    ("planet radius", "planet_radius_earth", 3, "R⊕"),
    ("equilibrium temperature", "equilibrium_temp_k", 4, "K"),
    ("insolation", "insolation_earth_flux", 3, "S⊕"),
)


@dataclass(frozen=True)
class Mission:
    key: str  # kepler / tess: `exohunter report --mission`
    kind: str  # KOI / TOI
    survey: str  # Kepler / TESS
    star_catalogue: str  # KIC / TIC
    catalogue_name: str  # Kepler Input Catalog / TESS Input Catalog
    star_key: str  # the mart's star id column
    feature_table: str  # the feature mart: every signal of the batch
    source: str  # who dispositions: "the archive", "TFOPWG"
    dispositions: dict[str | None, Disposition]
    legend: dict[str, str]  # the period-radius chart's name of each group
    star_rows: tuple[Row, ...]
    signal_rows: tuple[Row, ...]
    signal_note: str | None  # what the catalogue's transit fit lacks, said in the table
    ranked: str  # what the rank counts: "candidates"
    unresolved: str  # never in training: "CANDIDATEs"
    trained_on: str  # what P(planet) was calibrated on
    protocol: str  # the out-of-fold figures' labels and grouping
    planets: str  # the positive class, in "... % were {planets}"
    sources: str  # the provenance line's tables
    not_inputs: str  # the provenance line's leakage sentence
    explained: bool  # per-feature TreeSHAP contributions are stored
    anomaly_scored: bool  # the anomaly lenses score it
    has_lightcurves: bool  # a light curve of its star can be folded on its ephemeris

    def disposition(self, label: str | None) -> Disposition:
        return self.dispositions.get(label) or self.dispositions[None]


KEPLER = Mission(
    key="kepler",
    kind="KOI",
    survey="Kepler",
    star_catalogue="KIC",
    catalogue_name="Kepler Input Catalog",
    star_key="kepid",
    feature_table="marts.fct_koi_features",
    source="the archive",
    dispositions={
        "CANDIDATE": Disposition("a CANDIDATE — not a confirmed planet", CANDIDATE, "a CANDIDATE"),
        "CONFIRMED": Disposition("CONFIRMED", PLANET, "a confirmed planet"),
        "FALSE POSITIVE": Disposition("FALSE POSITIVE", FALSE_POSITIVE, "a false positive"),
        None: Disposition("not dispositioned", CANDIDATE, "not dispositioned"),
    },
    legend={FALSE_POSITIVE: "false positive", PLANET: "confirmed", CANDIDATE: "candidate"},
    star_rows=(*STELLAR_ROWS, ("Kepler magnitude", "kepler_magnitude", 3, "mag")),
    signal_rows=(
        PERIOD_ROW,
        ("mid-transit epoch", "transit_epoch_bkjd", 7, "BKJD"),
        *TRANSIT_ROWS,
        ("transit S/N", "transit_model_snr", 3, ""),
        ("impact parameter", "impact_parameter", 3, ""),
        *PLANET_ROWS,
    ),
    signal_note=None,
    ranked="candidates",
    unresolved="CANDIDATEs",
    trained_on="the archive's CONFIRMED and FALSE POSITIVE KOIs, with cross-validation grouped "
    "by star",
    protocol="CONFIRMED vs FALSE POSITIVE, grouped by star",
    planets="confirmed planets",
    sources="marts.fct_koi_predictions, fct_koi_explanations, fct_koi_features, fct_anomalies, "
    "fct_data_quality, ml.model_curves, raw.lightcurves",
    not_inputs="Vetting outputs (koi_score, koi_fpflag_*, koi_pdisposition) are never model "
    "inputs.",
    explained=True,
    anomaly_scored=True,
    has_lightcurves=True,
)

TESS = Mission(
    key="tess",
    kind="TOI",
    survey="TESS",
    star_catalogue="TIC",
    catalogue_name="TESS Input Catalog",
    star_key="tic_id",
    feature_table="marts.fct_toi_features",
    source="TFOPWG",
    dispositions={
        "PC": Disposition(
            "a planet candidate (PC) — not a confirmed planet", CANDIDATE, "a planet candidate"
        ),
        "APC": Disposition(
            "an ambiguous planet candidate (APC) — not a confirmed planet",
            CANDIDATE,
            "an ambiguous planet candidate",
        ),
        "CP": Disposition("a confirmed planet (CP)", PLANET, "a confirmed planet (CP)"),
        "KP": Disposition("a known planet (KP)", PLANET, "a known planet (KP)"),
        "FP": Disposition("a false positive (FP)", FALSE_POSITIVE, "a false positive (FP)"),
        "FA": Disposition("a false alarm (FA)", FALSE_POSITIVE, "a false alarm (FA)"),
        None: Disposition("not dispositioned — not a confirmed planet", CANDIDATE, "undecided"),
    },
    legend={FALSE_POSITIVE: "FP + FA", PLANET: "CP + KP", CANDIDATE: "PC + APC"},
    star_rows=(
        *STELLAR_ROWS,
        ("TESS magnitude", "tess_magnitude", 3, "mag"),
        ("distance", "stellar_distance_pc", 4, "pc"),
    ),
    signal_rows=(PERIOD_ROW, *TRANSIT_ROWS, *PLANET_ROWS),
    signal_note="the TOI table gives no S/N or impact parameter, and the epoch is kept out of "
    "the TOI mart",
    ranked="planet candidates (PC)",
    unresolved="PCs and APCs",
    trained_on="the TOIs TFOPWG dispositioned as planets (CP, KP) or not (FP, FA), with "
    "cross-validation grouped by TIC",
    protocol="CP+KP vs FP+FA, grouped by TIC",
    planets="planets (CP or KP)",
    sources="ml.toi_predictions, ml.model_registry, marts.fct_toi_features, dim_tess_star, "
    "fct_data_quality, ml.model_curves",
    not_inputs="Nothing the TFOPWG dispositioning or the follow-up sets (tfopwg_disp, rowupdate, "
    "toi_created, pl_tranmid) is a model input.",
    explained=False,
    anomaly_scored=False,
    has_lightcurves=False,
)

MISSIONS = {m.key: m for m in (KEPLER, TESS)}
