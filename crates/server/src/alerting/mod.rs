//! The alert engine (issue 11): evaluates rules on metric ingest, inventory changes and a Clock-driven sweep.
