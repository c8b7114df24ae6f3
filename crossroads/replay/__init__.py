"""`crossroads replay`: the real router against a simulated fleet whose script changes over time.

    catalog.py  the router's config for a fleet (one provider per endpoint, the fleet's prices)
    run.py      starting the sim and the router, sending the requests, reading the ledger
    oracle.py   what a router that knew the script would have done, and the score against it
    report.py   the score as tables or JSON
"""
