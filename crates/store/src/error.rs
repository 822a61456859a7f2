use thiserror::Error;

/// What can go wrong in the store, in terms the HTTP layer maps exhaustively.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; names the rule (e.g. `organizations.slug`).
    #[error("already exists: {0}")]
    Conflict(String),
    /// Input that the store refused, naming the field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("configuration: {0}")]
    Config(String),
    /// Data that broke an invariant the store keeps (e.g. an unknown enum value in a row).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
}

impl StoreError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                let what = db
                    .constraint()
                    .map(str::to_string)
                    .unwrap_or_else(|| unique_target(db.message()));
                StoreError::Conflict(what)
            }
            _ => StoreError::Database(e),
        }
    }
}

/// SQLite names the columns in its message: "UNIQUE constraint failed: users.email".
fn unique_target(msg: &str) -> String {
    msg.rsplit(": ").next().unwrap_or(msg).to_string()
}
