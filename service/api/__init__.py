"""HTTP routes by resource, one blueprint each (the rest still lives in ``service/routes.py``)."""
