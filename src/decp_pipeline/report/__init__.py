"""The report of a release, for people, in French: report.html, acheteurs.csv and one page per buyer.

store.py        the release's tables as DuckDB views (contrats, titulaires)
accounting.py   what came in and what became of it, per source (report.json's figures)
indicators.py   the indicators on the valid, deduplicated marchés, each with its definition and its base
plots.py        matplotlib figures as inline SVG
buyers.py       acheteurs.csv and acheteurs/<id>.html
libelles.py     the plain words of every fix, anomaly and schema rule
render.py       the templates (templates/) and the French ways of writing numbers
write.py        all of it, into the release being written (pipeline/assemble.py calls it)
"""
