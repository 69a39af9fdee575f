//! The `alb-*` settings: headers in the format of an Application Load
//! Balancer's `authenticate-cognito` action, for apps written for one.

use super::check::{check, Checker};
use super::settings::Settings;
use super::{parse, AlbConfig};
use crate::pem::read_p256_key;
use crate::secret::Secret;

/// What `alb-signer` must look like, in the problem line.
const SIGNER_SHAPE: &str = "must be the ARN of an Application Load Balancer, \
     arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID";

/// The settings when `alb-headers` is on; `None` when off or invalid (then
/// already a problem).
pub(crate) fn settings(c: &mut Checker, s: &Settings) -> Option<AlbConfig> {
    let enabled = check!(c.value(s.alb_headers, parse::boolean));
    let signer = check!(c.optional(s.alb_signer, signer_arn));
    if !enabled {
        return None;
    }
    let key = check!(c.file(s.alb_key_file, read_p256_key));
    if key.is_none() && s.alb_key_file.is_some() {
        return None;
    }
    let Some(signer) = signer else {
        if s.alb_signer.is_none() {
            c.problem(
                "alb_signer",
                "is required when alb-headers is on: the ARN your apps expect in the token's signer",
                None,
            );
        }
        return None;
    };
    let key = key.map(Secret::new);
    Some(AlbConfig { signer, key })
}

/// An ALB ARN as aws-jwt-verify's `AlbJwtVerifier` accepts it (partition
/// `aws`, `aws-cn` or `aws-us-gov`; a region like `eu-west-1`), narrowed to
/// the form ALB ARNs always have, so a target group's ARN is caught here.
pub(crate) fn signer_arn(s: &str) -> parse::Parsed<String> {
    let s = s.trim();
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return Err(SIGNER_SHAPE.into());
    };
    let resource_ok = resource
        .strip_prefix("loadbalancer/app/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(name, id)| {
            let ok = |p: &str| {
                !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            };
            ok(name) && ok(id)
        });
    let ok = arn == "arn"
        && matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
        && service == "elasticloadbalancing"
        && is_region(region)
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource_ok;
    if ok {
        Ok(s.to_string())
    } else {
        Err(SIGNER_SHAPE.into())
    }
}

/// `xx-name-N` or `xx-gov-name-N`, the regions aws-jwt-verify accepts.
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let (geo, rest) = match parts.as_slice() {
        [geo, "gov", name, n] => (*geo, [*name, *n]),
        [geo, name, n] => (*geo, [*name, *n]),
        _ => return false,
    };
    let [name, n] = rest;
    geo.len() == 2
        && geo.bytes().all(|b| b.is_ascii_lowercase())
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase())
        && n.len() == 1
        && n.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str =
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/my-app/50dc6c495c0c9188";

    fn read(pairs: &[(&str, &str)]) -> (Option<AlbConfig>, Vec<String>) {
        let mut c = Checker::new(Vec::new());
        let got = settings(&mut c, &Settings::from_pairs(pairs));
        (got, c.problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn off_by_default_and_on_with_a_signer() {
        assert!(read(&[]).0.is_none());
        let (c, problems) = read(&[("alb_headers", "true"), ("alb_signer", ARN)]);
        assert!(problems.is_empty(), "{problems:?}");
        let c = c.unwrap();
        assert_eq!(c.signer, ARN);
        assert!(c.key.is_none());
    }

    #[test]
    fn the_signer_is_required_when_on() {
        let (c, problems) = read(&[("alb_headers", "yes")]);
        assert!(c.is_none());
        assert_eq!(
            problems,
            ["alb-signer: is required when alb-headers is on: the ARN your apps expect in the token's signer"]
        );
    }

    #[test]
    fn signers_must_be_alb_arns() {
        for good in [
            ARN,
            "arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:loadbalancer/app/a/1",
            "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/app/a-b/c0",
        ] {
            assert_eq!(signer_arn(good).as_deref(), Ok(good), "{good}");
        }
        for bad in [
            "",
            "my-alb",
            "arn:aws:elasticloadbalancing",
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/tg/50dc6c495c0c9188",
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/nlb/50dc6c495c0c9188",
            "arn:aws:elasticloadbalancing:eu-west:123456789012:loadbalancer/app/a/1",
            "arn:aws:elasticloadbalancing:eu-west-1:1234:loadbalancer/app/a/1",
            "arn:aws:cognito-idp:eu-west-1:123456789012:loadbalancer/app/a/1",
            "arn:azure:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/a/1",
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/a/\"1",
        ] {
            assert!(signer_arn(bad).is_err(), "{bad}");
        }
        let (_, problems) = read(&[("alb_headers", "1"), ("alb_signer", "my-alb")]);
        assert_eq!(
            problems,
            [format!("alb-signer: {SIGNER_SHAPE} (got \"my-alb\")")]
        );
    }

    #[test]
    fn the_key_file_must_hold_a_p256_key() {
        let (_, problems) = read(&[
            ("alb_headers", "1"),
            ("alb_signer", ARN),
            ("alb_key_file", "/nonexistent/alb.pem"),
        ]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("alb-key-file: cannot read the file"),
            "{problems:?}"
        );
    }
}
