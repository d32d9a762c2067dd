"""Qt-, torch- and GL-free foundations: frame types, errors, timing, slots."""
