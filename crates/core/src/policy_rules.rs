//! Policy rules (issue 13): the checked shape of `rules` in a policy, shared by the server
//! (validation) and the agent (evaluation).
