//! Migration 11 (issue 14, scale-out): `job_leases.last_period`, the last period of its
//! job that a replica claimed (the period's number: seconds since the epoch divided by
//! the sweep interval). A replica runs a period only if it moves this forward, so a lease
//! that changes hands at a period boundary cannot run one period twice.

use crate::migrations::{Step, c, int_null};

pub(crate) fn v11() -> Vec<Step> {
    vec![Step::Alter(
        sea_query::Table::alter()
            .table(c("job_leases"))
            .add_column(int_null("last_period"))
            .to_owned(),
    )]
}
