"""The physical lens: "this signal is inconsistent with a planet transiting the star we think it
transits".

For a planet on a circular orbit, the transit's period, duration, depth and impact parameter imply
a stellar density (Seager & Mallen-Ornelas 2003; computed in dbt as ``log10_density_ratio`` =
log10 rho_transit / rho_catalogue, the catalogue density from log g and R*). A KOI either follows
the relation y = log10_density_ratio ~ mu (with scatter) or belongs to an outlier population —
Hogg, Bovy & Lang (2010)'s mixture model for outliers:

    y_i ~ (1 - f) Normal(mu, sqrt(s_i^2 + tau^2)) + f Normal(mu_out, sqrt(s_i^2 + (tau + delta)^2))

s_i is the KOI's measurement uncertainty (catalogue log g and R* errors, duration error). The
discrete membership is marginalised, so NUTS samples (mu, tau, f, mu_out, delta). Each KOI's
outlier probability is averaged over the posterior draws, with a 90 % credible interval.

Priors (log10 density units; all weakly informative):
- mu ~ Normal(0, 1): a consistent KOI has a ratio near 1; an offset up to ~1 dex is allowed for
  systematic errors in catalogue log g.
- tau ~ HalfNormal(0.5): intrinsic scatter of consistent KOIs (modest eccentricity, impact-
  parameter degeneracy); a few tenths of a dex expected.
- f ~ Beta(1, 4): outlier share, mean 0.2, any value in (0, 1) possible.
- mu_out ~ Normal(0, 2), delta ~ HalfNormal(2): the outliers are centred anywhere within a few dex
  and are broader than the inliers by delta (this ordering keeps the components identifiable).

A fit is used only if it converged: every R-hat <= 1.01, every bulk ESS >= 400 and no divergent
transition. Otherwise :class:`NotConverged` is raised and nothing is stored.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

from scoring.anomalies.pyod_ensemble import flag_top

# Two CPU devices let NUTS run its two chains in parallel; must be set before JAX starts.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS

from scoring.errors import ExoHunterError

RELATION = "log10_density_ratio"
PARAMETERS = ("mu", "tau", "f_out", "mu_out", "delta")
MAX_R_HAT = 1.01
MIN_ESS = 400
MIN_SIGMA = 0.01  # dex: no KOI is measured better than this
CREDIBLE = (0.05, 0.95)


class NotConverged(ExoHunterError):
    """The sampler did not converge: the fit is reported, never stored as a result."""


@dataclass(frozen=True)
class SamplerConfig:
    chains: int = 2
    warmup: int = 1000
    samples: int = 1000
    seed: int = 0


DEFAULT_SAMPLER = SamplerConfig()


@dataclass
class OutlierFit:
    draws: dict[str, np.ndarray]  # parameter -> posterior draws, chains concatenated
    r_hat: dict[str, float]
    ess_bulk: dict[str, float]
    divergences: int
    seconds: float
    n_kois: int
    config: SamplerConfig = DEFAULT_SAMPLER

    @property
    def problems(self) -> list[str]:
        problems = [
            f"R-hat of {p} is {v:.3f} (> {MAX_R_HAT})"
            for p, v in self.r_hat.items()
            if v > MAX_R_HAT
        ]
        problems += [
            f"ESS of {p} is {v:.0f} (< {MIN_ESS})" for p, v in self.ess_bulk.items() if v < MIN_ESS
        ]
        if self.divergences:
            problems.append(f"{self.divergences} divergent transitions")
        return problems

    def diagnostics(self) -> dict[str, float]:
        total_draws = self.config.chains * self.config.samples
        return {
            "r_hat_max": max(self.r_hat.values()),
            "ess_bulk_min": min(self.ess_bulk.values()),
            "divergences": float(self.divergences),
            "fit_seconds": self.seconds,
            "ess_per_second": min(self.ess_bulk.values()) / self.seconds,
            "draws": float(total_draws),
            **{f"posterior_mean_{p}": float(self.draws[p].mean()) for p in PARAMETERS},
        }


def measurement_sigma(frame: pd.DataFrame) -> np.ndarray:
    """Uncertainty of log10(rho_transit / rho_catalogue) per KOI, in dex.

    log rho_catalogue = log g - log R* + const, and rho_transit ~ T^-3 near the small-angle limit,
    so the catalogue's log g and R* errors and the duration's relative error add in quadrature.
    A KOI without error bars gets the median uncertainty."""

    def half_range(name: str) -> pd.Series:
        return (frame[f"{name}_err1"].abs() + frame[f"{name}_err2"].abs()) / 2

    logg = half_range("stellar_logg_cgs")
    radius = half_range("stellar_radius_solar") / frame["stellar_radius_solar"] / np.log(10)
    duration = 3 * frame["transit_duration_rel_unc"].clip(upper=1) / np.log(10)
    sigma = np.sqrt(logg**2 + radius**2 + duration**2).astype("float64")
    return sigma.fillna(sigma.median()).clip(lower=MIN_SIGMA).to_numpy()


def _model(y: jnp.ndarray, sigma: jnp.ndarray) -> None:
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    tau = numpyro.sample("tau", dist.HalfNormal(0.5))
    f_out = numpyro.sample("f_out", dist.Beta(1.0, 4.0))
    mu_out = numpyro.sample("mu_out", dist.Normal(0.0, 2.0))
    delta = numpyro.sample("delta", dist.HalfNormal(2.0))
    inlier = dist.Normal(mu, jnp.sqrt(sigma**2 + tau**2)).log_prob(y) + jnp.log1p(-f_out)
    outlier = dist.Normal(mu_out, jnp.sqrt(sigma**2 + (tau + delta) ** 2)).log_prob(y) + jnp.log(
        f_out
    )
    numpyro.factor("mixture", jnp.logaddexp(inlier, outlier).sum())


def fit(y: np.ndarray, sigma: np.ndarray, config: SamplerConfig = DEFAULT_SAMPLER) -> OutlierFit:
    """Sample the posterior with NUTS; raise :class:`NotConverged` unless it converged."""
    if len(y) < 50:
        raise ValueError(
            f"the outlier model needs at least 50 KOIs with a density ratio, got {len(y)}"
        )
    start = time.perf_counter()
    chain_method = "parallel" if jax.local_device_count() >= config.chains else "sequential"
    mcmc = MCMC(
        NUTS(_model),
        num_warmup=config.warmup,
        num_samples=config.samples,
        num_chains=config.chains,
        chain_method=chain_method,
        progress_bar=False,
    )
    mcmc.run(
        jax.random.PRNGKey(config.seed),
        y=jnp.asarray(y, dtype=jnp.float32),
        sigma=jnp.asarray(sigma, dtype=jnp.float32),
        extra_fields=("diverging",),
    )
    by_chain = {
        name: np.asarray(value) for name, value in mcmc.get_samples(group_by_chain=True).items()
    }
    stats = summary(by_chain)
    result = OutlierFit(
        draws={name: value.reshape(-1) for name, value in by_chain.items()},
        r_hat={p: float(stats[p]["r_hat"]) for p in PARAMETERS},
        ess_bulk={p: float(stats[p]["n_eff"]) for p in PARAMETERS},
        divergences=int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum()),
        seconds=time.perf_counter() - start,
        n_kois=len(y),
        config=config,
    )
    if result.problems:
        raise NotConverged("the outlier model did not converge: " + "; ".join(result.problems))
    return result


@dataclass
class OutlierScores:
    p_outlier: np.ndarray
    low: np.ndarray
    high: np.ndarray
    log_odds: np.ndarray  # posterior mean log odds of "outlier": a ranking that never saturates


def outlier_probability(result: OutlierFit, y: np.ndarray, sigma: np.ndarray) -> OutlierScores:
    """Per KOI, the posterior probability of the outlier component (chunked over KOIs so that
    draws x KOIs never holds more than a few million numbers)."""
    d = result.draws
    parts = []
    for start in range(0, len(y), 2000):
        yy, ss = y[start : start + 2000][None, :], sigma[start : start + 2000][None, :]
        inlier = norm.logpdf(yy, d["mu"][:, None], np.sqrt(ss**2 + d["tau"][:, None] ** 2))
        outlier = norm.logpdf(
            yy, d["mu_out"][:, None], np.sqrt(ss**2 + (d["tau"] + d["delta"])[:, None] ** 2)
        )
        log_odds = outlier - inlier + np.log(d["f_out"] / (1 - d["f_out"]))[:, None]
        p = expit(log_odds)
        low, high = np.quantile(p, CREDIBLE, axis=0)
        parts.append((p.mean(axis=0), low, high, log_odds.mean(axis=0)))
    return OutlierScores(*(np.concatenate(column) for column in zip(*parts, strict=True)))


@dataclass
class BayesianScores:
    fit: OutlierFit
    scores: OutlierScores
    rows: np.ndarray  # frame rows that have a density ratio, aligned with ``scores``
    flagged: np.ndarray  # per frame row: inside the top ``budget`` by log odds


def score_frame(frame: pd.DataFrame, budget: float, config: SamplerConfig) -> BayesianScores:
    """Fit the model on the KOIs of ``frame`` that have a density ratio and score them."""
    y = frame[RELATION].to_numpy(dtype="float64", na_value=np.nan)
    rows = np.flatnonzero(np.isfinite(y))
    sigma = measurement_sigma(frame.iloc[rows])
    result = fit(y[rows], sigma, config)
    scores = outlier_probability(result, y[rows], sigma)
    flagged = np.zeros(len(frame), dtype=bool)
    flagged[rows] = flag_top(scores.log_odds, budget)[1]
    return BayesianScores(result, scores, rows, flagged)
