"""Beside the product, not in it: the scripted demo, the benchmark suite, and the real
parts they and the tests start (a private mosquitto and PostgreSQL, a subscriber that
checks the delivery promises). May import every other package; none imports it, but
the `station` command, which hands `demo` and `bench` over to it."""
