//! Policy evaluation on the agent (issue 13): services, packages, files, config keys,
//! sysctl, users, firewall, disk encryption and check scripts.
