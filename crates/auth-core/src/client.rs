use std::fmt;
use std::net::IpAddr;

/// The longest user agent kept, in characters; longer ones are cut.
pub const MAX_USER_AGENT_LENGTH: usize = 256;

/// Where a request came from: recorded with a session at login (so a user can tell their
/// devices apart), and the key of per-address rate limits.
///
/// The IP address must come from the connection or from a proxy header the application
/// trusts; this type takes what it is given.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    ip: Option<IpAddr>,
    user_agent: Option<String>,
}

impl ClientInfo {
    /// No address, no user agent.
    pub fn none() -> Self {
        Self::default()
    }

    /// Sets the client's address.
    pub fn with_ip(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip);
        self
    }

    /// Sets the user agent, cleaned: control characters removed, cut to
    /// [`MAX_USER_AGENT_LENGTH`] characters, empty treated as absent.
    pub fn with_user_agent(mut self, user_agent: &str) -> Self {
        let cleaned: String = user_agent
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_USER_AGENT_LENGTH)
            .collect();
        let cleaned = cleaned.trim();
        self.user_agent = (!cleaned.is_empty()).then(|| cleaned.to_owned());
        self
    }

    /// The client's address, if known.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The cleaned user agent, if any.
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }
}

impl fmt::Debug for ClientInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientInfo")
            .field("ip", &self.ip)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_is_cleaned_and_bounded() {
        let c = ClientInfo::none().with_user_agent("Mozilla\r\n\0/5.0 ");
        assert_eq!(c.user_agent(), Some("Mozilla/5.0"));
        let long = ClientInfo::none().with_user_agent(&"x".repeat(10_000));
        assert_eq!(long.user_agent().unwrap().len(), MAX_USER_AGENT_LENGTH);
        assert_eq!(ClientInfo::none().with_user_agent("\n").user_agent(), None);
    }
}
