"""The queries behind every chart and table of the model pages (DESIGN.md: analytics/).

Each module builds one section of `crossroads/schema/stats.py` from rollups (`RollupReads`),
the catalog and live stats; none reads raw generation rows, so a page costs the same after a
month of traffic as after a minute.
"""
