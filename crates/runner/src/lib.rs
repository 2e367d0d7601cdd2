//! sidescan-runner (to be written)
