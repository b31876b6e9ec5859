"""TPC-H on spillframe and its peers: data generation, the 22 queries, answers, runs."""

TABLES = ("lineitem", "orders", "customer", "part", "partsupp", "supplier", "nation", "region")
