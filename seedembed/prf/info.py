"""What ``seedembed prf-info`` reports: seed space, bits, and for LCGs the period analysis.

An LCG's cycle structure matters to a seed codec: seeds on a short cycle give periodic
latents, a fixed point gives a constant latent, and seeds on one cycle give sequences that are
shifts of one another.
"""

from __future__ import annotations

import numpy as np

from seedembed.prf import PRESETS, Lcg, Prf
from seedembed.prf.lcg import MAX_CYCLE_M, cycle_structure, hull_dobell, spectral_test_2d


def describe(p: Prf) -> dict:
    """A JSON-ready description of a PRF."""
    preset = next((name for name, spec in PRESETS.items() if spec == p.spec), None)
    info: dict = {
        "spec": p.spec,
        "preset": preset,
        "family": p.family,
        "seed_space": p.size,
        "bits_per_seed": p.bits,
        "stored_bits": p.stored_bits,
        "invertible": p.invertible,
    }
    if isinstance(p, Lcg):
        hd = hull_dobell(p.a, p.c, p.m)
        info["hull_dobell"] = {
            "full_period": hd.full_period,
            "c_coprime_m": hd.c_coprime_m,
            "every_prime_of_m_divides_a_minus_1": hd.primes_divide_a_minus_1,
            "primes_not_dividing_a_minus_1": hd.failing_primes,
            "four_divides_a_minus_1_if_four_divides_m": hd.four_divides_a_minus_1_if_four_divides_m,
        }
        if p.m <= MAX_CYCLE_M:
            cs = cycle_structure(p.a, p.c, p.m)
            x = np.arange(p.m, dtype=np.int64)
            fixed = np.nonzero((p.a * x + p.c) % p.m == x)[0]
            info["cycles"] = {
                "count": cs.n_cycles,
                "lengths": {str(k): v for k, v in sorted(cs.cycle_lengths.items())},
                "longest": cs.longest,
                "tail_states": cs.tail_states,
                "fixed_points": [int(v) for v in fixed[:10]],
            }
        else:
            info["cycles"] = None
        st = spectral_test_2d(p.a, p.m)
        info["spectral_test_2d"] = {
            "nu2": st.nu2,
            "mu2": st.mu2,
            "line_spacing": st.line_spacing,
            "shortest_dual_vector": list(st.shortest_dual_vector),
        }
    return info


def format_info(info: dict) -> str:
    """Human-readable text of :func:`describe`'s dict."""
    preset = f"  (preset {info['preset']})" if info["preset"] else ""
    lines = [f"prf           {info['spec']}{preset}"]
    if info["seed_space"] is None:
        lines.append("seed space    unbounded")
    else:
        n = info["seed_space"]
        lines.append(f"seed space    {n:,} seeds (0 .. {n - 1:,})")
        bits, stored = info["bits_per_seed"], info["stored_bits"]
        lines.append(f"bits/seed     {bits:.2f} (bit-packed: {stored})")
    lines.append(f"invertible    {'yes' if info['invertible'] else 'no'}")
    hd = info.get("hull_dobell")
    if hd is not None:
        if hd["full_period"]:
            lines.append("hull-dobell   full period: every seed is on one cycle of length m")
        else:
            why = []
            if not hd["c_coprime_m"]:
                why.append("gcd(c, m) != 1")
            if hd["primes_not_dividing_a_minus_1"]:
                ps = ", ".join(map(str, hd["primes_not_dividing_a_minus_1"]))
                why.append(f"prime factor(s) {ps} of m do not divide a-1")
            if not hd["four_divides_a_minus_1_if_four_divides_m"]:
                why.append("4 divides m but not a-1")
            lines.append(f"hull-dobell   not full period: {'; '.join(why)}")
        cyc = info.get("cycles")
        if cyc is None:
            lines.append(f"cycles        not computed (m > {MAX_CYCLE_M:,})")
        else:
            parts = ", ".join(
                f"{count:,} of length {int(length):,}" for length, count in cyc["lengths"].items()
            )
            tails = cyc["tail_states"]
            lines.append(f"cycles        {cyc['count']:,}: {parts}; {tails:,} tail states")
            if cyc["fixed_points"]:
                fps = ", ".join(map(str, cyc["fixed_points"]))
                lines.append(f"fixed points  {fps} (a constant latent: seed x maps to itself)")
        st = info["spectral_test_2d"]
        lines.append(
            f"spectral 2-D  nu2 = {st['nu2']:.2f}, mu2 = {st['mu2']:.3f} (Knuth: >= 0.1 passes, "
            f">= 1 very good); pairs lie on lines {st['line_spacing']:.2e} apart"
        )
    return "\n".join(lines)


__all__ = ["describe", "format_info"]
