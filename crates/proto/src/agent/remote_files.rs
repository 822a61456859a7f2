//! `files` streams (issue 12): one file operation per stream. Paths are resolved on the
//! agent, under the device's allowed root when one is set.
