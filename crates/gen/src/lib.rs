//! sidescan-gen (to be written)
