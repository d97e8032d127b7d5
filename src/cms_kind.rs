//! Which CMS a site, a snapshot or a package is for: the kind's identity, and nothing else.
//!
//! A leaf: it depends on nothing in the crate, so the inventory, snapshot manifests and
//! update sources can name a CMS without depending on `cms`, which depends on them. A kind
//! is its name (`wordpress`), not an enum variant: adding a CMS adds no variant for every
//! `match` in the crate to grow; what differs between CMSs is asked of the CMS's adapter
//! (`cms::adapter(kind)`).
//!
//! Each CMS defines its kind as a constant beside its adapter. Which names are kinds is the
//! registry's to say: `Deserialize` (inventory `cms:`, manifests, repository indexes) is
//! implemented in `cms::registry`, so an unregistered name is refused where it is read.

use serde::{Serialize, Serializer};

/// A CMS, by the name the inventory and `--json` use for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CmsKind(&'static str);

impl CmsKind {
    /// The kind called `name`: for a CMS's own constant. Kinds read from files come from
    /// the registry, which knows only registered names.
    pub const fn named(name: &'static str) -> CmsKind {
        CmsKind(name)
    }

    /// The name as the inventory, manifests and `--json` write it (`wordpress`).
    pub fn name(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for CmsKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for CmsKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_is_its_name() {
        const SHOP: CmsKind = CmsKind::named("shop");
        assert_eq!(SHOP.name(), "shop");
        assert_eq!(SHOP.to_string(), "shop");
        assert_eq!(serde_json::to_value(SHOP).unwrap(), "shop");
        assert_eq!(SHOP, CmsKind::named("shop"));
    }
}
