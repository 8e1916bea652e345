//! Microsoft's national clouds: where to sign in, and which Graph a token is for.

/// A Microsoft national cloud: where to sign in and which Graph the token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Global,
    UsGov,
    Dod,
    China,
}

impl Cloud {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "global" => Some(Self::Global),
            "usgov" => Some(Self::UsGov),
            "dod" => Some(Self::Dod),
            "china" => Some(Self::China),
            _ => None,
        }
    }

    pub(crate) fn authority_url(self) -> &'static str {
        match self {
            Self::Global => "https://login.microsoftonline.com",
            Self::UsGov | Self::Dod => "https://login.microsoftonline.us",
            Self::China => "https://login.chinacloudapi.cn",
        }
    }

    pub(crate) fn graph_url(self) -> &'static str {
        match self {
            Self::Global => "https://graph.microsoft.com",
            Self::UsGov => "https://graph.microsoft.us",
            Self::Dod => "https://dod-graph.microsoft.us",
            Self::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The token scope: always this cloud's Graph, even when `GRAPH_URL` points elsewhere.
    pub(crate) fn scope(self) -> String {
        format!("{}/.default", self.graph_url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clouds_have_their_documented_hosts_and_scopes() {
        assert_eq!(
            Cloud::Global.scope(),
            "https://graph.microsoft.com/.default"
        );
        assert_eq!(Cloud::UsGov.scope(), "https://graph.microsoft.us/.default");
        assert_eq!(
            Cloud::Dod.scope(),
            "https://dod-graph.microsoft.us/.default"
        );
        assert_eq!(
            Cloud::China.scope(),
            "https://microsoftgraph.chinacloudapi.cn/.default"
        );
        assert_eq!(
            Cloud::Dod.authority_url(),
            "https://login.microsoftonline.us"
        );
        assert_eq!(
            Cloud::China.authority_url(),
            "https://login.chinacloudapi.cn"
        );
        assert_eq!(Cloud::parse("USGov"), Some(Cloud::UsGov));
        assert_eq!(Cloud::parse("moon"), None);
    }
}
