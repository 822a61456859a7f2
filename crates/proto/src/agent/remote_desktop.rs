//! `desktop` streams (issue 12): screen frames agent → server, input server → agent.
