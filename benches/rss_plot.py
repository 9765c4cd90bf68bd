#!/usr/bin/env python3
"""Resident memory over a run of tests/memory_attack.rs, as an SVG line beside the budget.

    MEMORY_ATTACK_ROUNDS=3000 MEMORY_ATTACK_SAMPLES=target/rss.csv \\
        cargo test --release --test memory_attack -- --nocapture
    python3 benches/rss_plot.py target/rss.csv 64 > benches/memory_attack.svg
"""

import sys

samples = [tuple(map(int, line.split(","))) for line in open(sys.argv[1]) if line.strip()]
budget_mib = float(sys.argv[2])
W, H, L, B = 640, 300, 56, 36
t_max = max(t for t, _ in samples) or 1
m_max = max(max(r for _, r in samples) / 2**20, budget_mib) * 1.25
x = lambda t: L + (W - L - 12) * t / t_max
y = lambda mib: H - B - (H - B - 16) * mib / m_max
points = " ".join(f"{x(t):.1f},{y(r / 2**20):.1f}" for t, r in samples)
peak = max(r for _, r in samples) / 2**20
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<line x1="{L}" y1="{H - B}" x2="{W - 12}" y2="{H - B}" stroke="black"/>',
       f'<line x1="{L}" y1="16" x2="{L}" y2="{H - B}" stroke="black"/>']
step = 16 if m_max > 64 else 8
for mib in range(0, int(m_max) + 1, step):
    out.append(f'<text x="{L - 6}" y="{y(mib) + 4:.1f}" text-anchor="end">{mib}</text>')
for i in range(6):
    t = t_max * i / 5
    out.append(f'<text x="{x(t):.1f}" y="{H - B + 16}" text-anchor="middle">{t / 1000:.0f} s</text>')
out.append(f'<line x1="{L}" y1="{y(budget_mib):.1f}" x2="{W - 12}" y2="{y(budget_mib):.1f}" stroke="#c33" stroke-dasharray="6 4"/>')
out.append(f'<text x="{W - 14}" y="{y(budget_mib) - 6:.1f}" text-anchor="end" fill="#c33">memory_budget {budget_mib:.0f} MiB</text>')
out.append(f'<polyline points="{points}" fill="none" stroke="#2563eb" stroke-width="1.5"/>')
out.append(f'<text x="{L + 8}" y="28">resident memory, MiB (peak {peak:.0f})</text>')
out.append("</svg>")
print("\n".join(out))
