//! Why one site failed: reported for that site, while the others carry on.

use crate::remote::RemoteError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum SiteError {
    #[error("{0}")]
    Remote(#[from] RemoteError),
    /// The site's files or database say something tend cannot work with.
    #[error("{0}")]
    Site(String),
}

impl SiteError {
    pub fn site(message: impl Into<String>) -> SiteError {
        SiteError::Site(message.into())
    }

    /// The message with every known secret masked: the only form that leaves tend.
    pub fn masked(&self) -> String {
        crate::secrets::mask(&self.to_string())
    }
}
