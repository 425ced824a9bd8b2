"""The reports' jinja2 templates (rendered with autoescape: every value is escaped unless it is a
chart, which :mod:`.svg` built safe). Kept as Python strings so that any install of tracesieve
has them, with no package-data step. One page each, all CSS inline, no script, no URL."""

from __future__ import annotations

__all__ = ["TEMPLATES"]

BASE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{% endblock %}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212529;
         margin: 0; background: #f8f9fa; }
  main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 48px; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  h2 { font-size: 17px; margin: 28px 0 10px; }
  .meta { color: #868e96; margin-bottom: 18px; }
  .headline { font-size: 20px; font-weight: 600; padding: 14px 18px; border-radius: 8px;
              margin: 12px 0 20px; }
  .headline.bad { background: #fff5f5; color: #c92a2a; border: 1px solid #ffc9c9; }
  .headline.good { background: #ebfbee; color: #2b8a3e; border: 1px solid #b2f2bb; }
  .card { background: #fff; border: 1px solid #dee2e6; border-radius: 8px; padding: 16px 18px;
          margin-bottom: 16px; overflow-x: auto; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #f1f3f5; vertical-align: middle; }
  th { font-size: 12px; letter-spacing: .02em; color: #868e96; font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  .pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
  .gap, .untrusted { background: #ffe3e3; color: #c92a2a; }
  .covered, .trusted { background: #d3f9d8; color: #2b8a3e; }
  .rare { background: #fff3bf; color: #8f5d00; }
  .unseen { background: #e9ecef; color: #495057; }
  .up { color: #c92a2a; } .down { color: #2b8a3e; } .flat, .quiet, .na { color: #868e96; }
  .grids { display: flex; flex-wrap: wrap; gap: 14px; }
  .advice { border-left: 4px solid #e03131; padding: 4px 12px; margin: 6px 0; background: #fff5f5; }
  .note { color: #868e96; font-size: 12px; }
  svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
</style>
</head>
<body><main>
{% block body %}{% endblock %}
</main></body>
</html>
"""

AUDIT = """{% extends "base.html" %}
{% block title %}Coverage audit: {{ data.headline }}{% endblock %}
{% block body %}
<h1>Eval coverage audit</h1>
<div class="meta">Production failures from {{ data.window.since }} to {{ data.window.until }}
 ({{ data.window.weeks }} weeks) against the current regression set ({{ data.eval_cases_total }} cases).</div>
<div class="headline {{ 'bad' if data.gaps else 'good' }}">{{ data.headline }}</div>
{% if data.gaps %}<p>Gaps (failures in production, no eval case):
{% for g in data.gaps %}<span class="pill gap">{{ g }}</span> {% endfor %}</p>{% endif %}
<div class="card">{{ bars }}</div>
<h2>Per category</h2>
<div class="card"><table>
<tr><th>Category</th><th>Failures</th><th>Signals / labels</th><th>Weekly, oldest first</th>
<th>Last 4 weeks vs 4 before</th><th>Eval cases</th><th>Status</th></tr>
{% for c in data.categories %}
<tr>
<td>{{ c.category }}</td>
<td class="num">{{ c.failures }}</td>
<td class="num">{{ c.from_signals }} / {{ c.from_labels }}</td>
<td>{{ sparks[loop.index0] }}</td>
<td class="{{ 'na' if c.trend.direction == 'n/a' else c.trend.direction }}">
{%- if c.trend.direction == 'n/a' %}n/a (window under 8 weeks){% else -%}
{{ arrows[c.trend.direction] }} {{ c.trend.last_4_weeks }} vs {{ c.trend.previous_4_weeks }}
{%- if c.trend.change_pct is not none %} ({{ '%+.0f' % c.trend.change_pct }}%)
{%- elif c.trend.direction == 'new' %} (new){% endif %}{% endif %}</td>
<td class="num">{{ c.eval_cases }}</td>
<td><span class="pill {{ c.status }}">{{ status_names[c.status] }}</span></td>
</tr>
{% endfor %}
</table></div>
{% if data.unseen_in_production %}
<h2>Eval cases whose category had no production failure in the window</h2>
<div class="card"><p class="note">A fixed failure mode, a rare one, or a case worth re-checking.</p><table>
<tr><th>Category</th><th>Eval cases</th><th>Case ids</th></tr>
{% for u in data.unseen_in_production %}
<tr><td>{{ u.category }}</td><td class="num">{{ u.eval_cases }}</td>
<td class="note">{{ u.case_ids[:8] | join(', ') }}{% if u.case_ids | length > 8 %}, …{% endif %}</td></tr>
{% endfor %}
</table></div>
{% endif %}
<p class="note">A failure is a span with a signal of the category, or a case a reviewer labelled bad
with it; counted once per span.{% if data.min_count > 1 %} Categories with fewer than
{{ data.min_count }} failures and no case are listed, not flagged.{% endif %}</p>
{% endblock %}
"""

CALIBRATION = """{% extends "base.html" %}
{% block title %}Judge calibration: {{ data.judge }}{% endblock %}
{% block body %}
<h1>Judge calibration: {{ data.judge }}</h1>
<div class="meta">{{ data.overall.n }} cases labelled by humans and judged; {{ data.unmatched }}
verdicts without a human label. κ intervals: {{ data.settings.resamples }} paired bootstrap
resamples, seed {{ data.settings.seed }}.</div>
<div class="headline {{ 'bad' if data.untrusted else 'good' }}">{{ data.headline }}</div>
{% for u in data.untrusted %}<div class="advice"><b>{{ u.category }}</b>: {{ u.reason }}. {{ u.advice }}</div>
{% endfor %}
<h2>Agreement with human labels</h2>
<div class="card">{{ forest }}</div>
<div class="card"><table>
<tr><th>Category</th><th>n</th><th>Agreement</th><th>κ</th><th>95% CI</th><th>Too lenient | too strict</th>
<th>Direction</th><th>Trust</th></tr>
{% for g in groups %}
<tr><td>{{ g.category }}</td><td class="num">{{ g.n }}</td>
<td class="num">{{ '%.0f%%' % (g.agreement * 100) if g.agreement is not none else '–' }}</td>
<td class="num">{{ '%.2f' % g.kappa if g.kappa is not none else 'undefined' }}</td>
<td class="num">{% if g.kappa_ci %}[{{ '%.2f' % g.kappa_ci[0] }}, {{ '%.2f' % g.kappa_ci[1] }}]
{%- else %}–{% endif %}</td>
<td>{{ diverging[loop.index0] }}</td>
<td>{{ g.disagreement.direction }}{% if g.disagreement.p_value is not none %}
 <span class="note">(p={{ '%.2g' % g.disagreement.p_value }})</span>{% endif %}</td>
<td><span class="pill {{ 'trusted' if g.trusted else 'untrusted' }}">
{{- 'trusted' if g.trusted else 'use humans' }}</span></td></tr>
{% endfor %}
</table>
<p class="note">Too lenient: the judge says fine where humans say bad (rate over human-bad cases).
Too strict: the judge says bad where humans say fine (rate over human-fine cases).
Direction: exact binomial test on the disagreements (McNemar), p &lt; 0.05.</p></div>
<h2>Confusion matrices</h2>
<div class="card grids">{% for grid in grids %}{{ grid }}{% endfor %}</div>
<h2>Length and hedging bias</h2>
{% for b in biases %}
<div class="card">
<p><b>{{ b.data.feature }}</b>: {{ b.data.summary }}</p>
{{ b.chart }}
<p class="note">Effect: rank-biserial correlation of the judge's "fine" with {{ b.data.measure }},
within each human label, pooled ({{ '%+.2f' % b.data.effect if b.data.effect is not none else 'n/a' }});
p = {{ '%.3g' % b.data.p_value if b.data.p_value is not none else 'n/a' }} (Mann-Whitney U per stratum,
Stouffer-combined); flagged when p &lt; {{ b.data.alpha }} and |effect| ≥ {{ b.data.min_effect }}.
{{ b.data.n }} answers with text.</p>
</div>
{% endfor %}
{% endblock %}
"""

TEMPLATES = {"base.html": BASE, "audit.html": AUDIT, "calibration.html": CALIBRATION}
