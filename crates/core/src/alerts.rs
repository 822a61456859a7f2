//! Alert rule conditions and targets, parsed into checked types (issue 11).
