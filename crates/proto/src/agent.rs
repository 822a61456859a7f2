//! Agent protocol types (see DESIGN.md "Agent protocol").
