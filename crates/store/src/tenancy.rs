//! SQL for a [`Scope`]: the filters every tenant-data query appends. Kept in one place so
//! that no repository writes its own variant.

use crate::db::Q;
use breeze_core::scope::{OrgAccess, Scope, ScopeLevel, SiteAccess};

/// Appends ` AND <partner_col> = ? [AND <org_col> IN (...)]`: rows of organizations in reach.
/// A system scope reaches no tenant, so it appends a false condition.
pub(crate) fn orgs_in_scope(
    q: &mut Q,
    scope: &Scope,
    partner_col: &'static str,
    org_col: &'static str,
) {
    let Some(partner) = scope.partner_id else {
        q.push(" AND 1 = 0");
        return;
    };
    q.push(" AND ")
        .push_trusted(partner_col)
        .push(" = ")
        .push_bind(partner);
    if let OrgAccess::Only(ids) = &scope.orgs {
        q.push(" AND ")
            .push_trusted(org_col)
            .push(" IN ")
            .push_list(ids.iter().copied());
    }
}

/// Appends the organization filter plus ` AND <site_col> IN (...)` for site-limited scopes.
/// `site_col` may be nullable (org-wide objects): such rows are kept only when
/// `keep_org_wide` is true.
pub(crate) fn sites_in_scope(
    q: &mut Q,
    scope: &Scope,
    partner_col: &'static str,
    org_col: &'static str,
    site_col: &'static str,
    keep_org_wide: bool,
) {
    orgs_in_scope(q, scope, partner_col, org_col);
    if let SiteAccess::Only(ids) = &scope.sites {
        q.push(" AND (")
            .push_trusted(site_col)
            .push(" IN ")
            .push_list(ids.iter().copied());
        if keep_org_wide {
            q.push(" OR ").push_trusted(site_col).push(" IS NULL");
        }
        q.push(")");
    }
}

/// True for scopes that may see partner-level objects (partner staff with every org).
pub(crate) fn partner_wide(scope: &Scope) -> bool {
    scope.level == ScopeLevel::Partner && scope.is_partner_wide()
}

/// Like [`orgs_in_scope`] for objects that are either organization-owned or
/// partner-wide (`org_col` NULL, e.g. a partner's script library): partner-wide rows
/// of the scope's partner are kept for every scope of that partner.
pub(crate) fn orgs_or_partner_wide_in_scope(
    q: &mut Q,
    scope: &Scope,
    partner_col: &'static str,
    org_col: &'static str,
) {
    let Some(partner) = scope.partner_id else {
        q.push(" AND 1 = 0");
        return;
    };
    q.push(" AND ")
        .push_trusted(partner_col)
        .push(" = ")
        .push_bind(partner);
    if let OrgAccess::Only(ids) = &scope.orgs {
        q.push(" AND (")
            .push_trusted(org_col)
            .push(" IS NULL OR ")
            .push_trusted(org_col)
            .push(" IN ")
            .push_list(ids.iter().copied())
            .push(")");
    }
}
