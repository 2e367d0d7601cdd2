//! sidescan-eval (to be written)
