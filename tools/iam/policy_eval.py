"""Evaluate AWS IAM identity-based policies for one request (stdlib only).

Used by tests that check every AWS API request our components make would be
allowed by the IAM policies Terraform renders.

Scope: identity-based policies of a single principal only.  No SCPs/RCPs,
resource-based policies, permissions boundaries or session policies.  The
`Principal`/`NotPrincipal` elements mean nothing in an identity policy; they
are ignored here (IAM itself rejects them at attach time).

Implemented from the AWS IAM User Guide:

* Policy evaluation logic -- explicit Deny wins, then any Allow, else
  implicit deny:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
* IAM JSON policy elements: Condition operators -- the operator families, the
  ...IfExists suffix, Null, and this rule for a key missing from the request:
  "the values do not match and the condition is false.  If the policy
  condition requires that the key is *not* matched, such as StringNotLike or
  ArnNotLike, and the right key is not present, the condition is true.  This
  logic applies to all condition operators except ...IfExists and Null check."
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
* Conditions with multiple context keys or values -- operators AND-ed, keys
  AND-ed, values of one key OR-ed, and "If a single negated matching condition
  operator includes multiple values for a context key, those values are
  evaluated using a logical NOR":
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
* Single-valued vs. multivalued context keys -- ForAllValues/ForAnyValue; "The
  ForAllValues set operator also returns true if there are no context keys in
  the request"; ForAnyValue is false then:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html
* IAM JSON policy elements: NotAction / NotResource:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html
* IAM policy elements: Variables and tags -- ${key}, ${key, 'default'},
  the ${*} ${?} ${$} escapes, variables only in Version 2012-10-17, and a
  variable with no value matches nothing:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html

Decisions where the documentation is silent or ambiguous (see also the
report that came with this file):

* Request resource "*".  Services whose action has no resource-level
  permissions authorize against "*".  That string is compared *literally*:
  the policy Resource pattern must match the one-character string "*".  So
  Resource "*" (or "?", "**") matches it, but "arn:aws:ecs:*" or
  "arn:aws:ecs:us-east-1:123456789012:container-instance/facerec/*" does
  not -- those grants are silently useless for such actions.
* Resource/Action wildcards span ":" and "/" (whole-string glob), while
  ArnLike/ArnEquals wildcards stay inside one of the six ARN parts.
* An unqualified operator given a multivalued (list) request value: positive
  operators are true if any request value matches; negated operators are the
  negation of that.  AWS says multivalued keys "require a condition set
  operator" and does not document this case.
* Condition operator names and ForAllValues:/ForAnyValue: prefixes are matched
  case-insensitively; unknown operators raise PolicyError rather than being
  silently false, so a typo in Terraform shows up in the test.
* Malformed values (bad number, date, CIDR, base64) raise PolicyError.
"""

import base64
import ipaddress
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

__all__ = ["Decision", "PolicyError", "evaluate", "explain"]

ALLOW = "Allow"
EXPLICIT_DENY = "ExplicitDeny"
IMPLICIT_DENY = "ImplicitDeny"

# Policy variables are only recognised in this policy language version; in
# older (or missing) versions "${aws:username}" is a literal string.
_VARIABLES_VERSION = "2012-10-17"


class PolicyError(ValueError):
    """The policy document (or a context value) is malformed."""


@dataclass
class Decision:
    effect: str  # "Allow" | "ExplicitDeny" | "ImplicitDeny"
    # Sid (or "policy[i].Statement[j]") of the statements that decided it:
    # the Deny statements for ExplicitDeny, the Allow statements for Allow.
    statements: List[str] = field(default_factory=list)
    action: str = ""
    resource: str = ""

    @property
    def allowed(self) -> bool:
        return self.effect == ALLOW

    def __str__(self) -> str:
        return explain(self)


def explain(decision: Decision) -> str:
    """One line, for assertion messages."""
    what = f"{decision.action} on {decision.resource}"
    if decision.effect == ALLOW:
        return f"Allow: {what} (allowed by {', '.join(decision.statements)})"
    if decision.effect == EXPLICIT_DENY:
        return f"ExplicitDeny: {what} (denied by {', '.join(decision.statements)})"
    return f"ImplicitDeny: {what} (no Allow statement matched)"


# ---------------------------------------------------------------- patterns

_VAR_RE = re.compile(r"\$\{([^}]*)\}")
_VAR_BODY_RE = re.compile(r"^\s*([^,\s]+)\s*(?:,\s*'([^']*)'\s*)?$")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


def _resolve_variable(body: str, ctx: Dict[str, Any]) -> Optional[str]:
    """Value of ${body}; None when the key has no (single) value and no default."""
    if body in _ESCAPES:
        return _ESCAPES[body]
    m = _VAR_BODY_RE.match(body)
    if not m:
        raise PolicyError(f"malformed policy variable ${{{body}}}")
    key, default = m.group(1).lower(), m.group(2)
    value = ctx.get(key)
    if isinstance(value, (list, tuple)):
        # Multivalued keys cannot be used as policy variables.
        value = value[0] if len(value) == 1 else None
    if value is None:
        return default
    return _scalar_str(value)


def _glob_to_regex(text: str, wildcards: bool) -> str:
    if not wildcards:
        return re.escape(text)
    out = []
    for ch in text:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _compile(pattern: str, ctx: Dict[str, Any], *, wildcards: bool,
             variables: bool, ignore_case: bool = False) -> Optional["re.Pattern[str]"]:
    """Compile a policy string to a regex for fullmatch.

    Returns None if it uses a policy variable that has no value: such a
    pattern matches nothing ("Policy variables with no value").  Substituted
    values and the ${*} escapes are literal text, never wildcards.
    """
    parts = []
    pos = 0
    if variables:
        for m in _VAR_RE.finditer(pattern):
            parts.append(_glob_to_regex(pattern[pos:m.start()], wildcards))
            value = _resolve_variable(m.group(1), ctx)
            if value is None:
                return None
            parts.append(re.escape(value))
            pos = m.end()
    parts.append(_glob_to_regex(pattern[pos:], wildcards))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


def _matches(pattern: str, value: str, ctx: Dict[str, Any], **kw: bool) -> bool:
    rx = _compile(pattern, ctx, **kw)
    return rx is not None and rx.fullmatch(value) is not None


def _split_arn(arn: str) -> Optional[List[str]]:
    """Split into the six ARN parts; ':' inside ${...} does not split."""
    parts, cur, depth = [], [], 0
    i = 0
    while i < len(arn):
        ch = arn[i]
        if arn.startswith("${", i):
            depth += 1
            cur.append("${")
            i += 2
            continue
        if ch == "}" and depth:
            depth -= 1
        if ch == ":" and not depth and len(parts) < 5:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts if len(parts) == 6 else None


# ---------------------------------------------------------------- values

def _as_list(v: Any) -> List[Any]:
    if isinstance(v, (list, tuple)):
        return list(v)
    return [v]


def _scalar_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, bytes):
        return base64.b64encode(v).decode("ascii")
    return str(v)


def _parse_number(v: Any) -> Union[int, float]:
    if isinstance(v, bool):
        raise PolicyError(f"not a number: {v!r}")
    if isinstance(v, (int, float)):
        return v
    s = str(v).strip()
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        raise PolicyError(f"not a number: {v!r}") from None


_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$")
_EPOCH_RE = re.compile(r"^-?\d+(?:\.\d+)?$")


def _parse_date(v: Any) -> datetime:
    """ISO 8601 (naive = UTC) or epoch seconds, as the Date operators accept."""
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=timezone.utc)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return datetime.fromtimestamp(v, timezone.utc)
    s = str(v).strip()
    if _EPOCH_RE.match(s):
        return datetime.fromtimestamp(float(s), timezone.utc)
    m = _ISO_RE.match(s)
    if not m:
        raise PolicyError(f"not an ISO 8601 or epoch date: {v!r}")
    y, mo, d, hh, mm, ss, frac, tz = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tzinfo = timezone.utc
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        tzinfo = timezone(sign * offset)
    try:
        return datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0),
                        int(ss or 0), micro, tzinfo=tzinfo)
    except ValueError as e:
        raise PolicyError(f"bad date {v!r}: {e}") from None


def _parse_ip(v: Any) -> Union[ipaddress.IPv4Address, ipaddress.IPv6Address]:
    try:
        return ipaddress.ip_address(str(v).strip())
    except ValueError:
        raise PolicyError(f"not an IP address: {v!r}") from None


def _parse_cidr(v: Any) -> Union[ipaddress.IPv4Network, ipaddress.IPv6Network]:
    try:
        return ipaddress.ip_network(str(v).strip(), strict=False)
    except ValueError:
        raise PolicyError(f"not an IP address or CIDR: {v!r}") from None


def _b64(v: Any) -> bytes:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    try:
        return base64.b64decode(str(v), validate=True)
    except ValueError:
        raise PolicyError(f"not base64: {v!r}") from None


# ---------------------------------------------------------------- operators

# A comparator answers the *positive* question for one request value and one
# policy value; negated operators are evaluated as "not any of" (NOR).
Comparator = Callable[[Any, Any, Dict[str, Any], bool], bool]


def _string_cmp(wildcards: bool, ignore_case: bool) -> Comparator:
    def cmp(rv: Any, pv: Any, ctx: Dict[str, Any], variables: bool) -> bool:
        return _matches(_scalar_str(pv), _scalar_str(rv), ctx, wildcards=wildcards,
                        variables=variables, ignore_case=ignore_case)
    return cmp


def _numeric_cmp(test: Callable[[Any, Any], bool]) -> Comparator:
    def cmp(rv: Any, pv: Any, ctx: Dict[str, Any], variables: bool) -> bool:
        return test(_parse_number(rv), _parse_number(pv))
    return cmp


def _date_cmp(test: Callable[[Any, Any], bool]) -> Comparator:
    def cmp(rv: Any, pv: Any, ctx: Dict[str, Any], variables: bool) -> bool:
        return test(_parse_date(rv), _parse_date(pv))
    return cmp


def _bool_cmp(rv: Any, pv: Any, ctx: Dict[str, Any], variables: bool) -> bool:
    return _matches(_scalar_str(pv).lower(), _scalar_str(rv).lower(), ctx,
                    wildcards=False, variables=variables)


def _binary_cmp(rv: Any, pv: Any, ctx: Dict[str, Any], variables: bool) -> bool:
    return _b64(rv) == _b64(pv)


def _ip_cmp(rv: Any, pv: Any, ctx: Dict[str, Any], variables: bool) -> bool:
    # An IPv4 address is never "in" an IPv6 network and vice versa.
    return _parse_ip(rv) in _parse_cidr(pv)


def _arn_cmp(rv: Any, pv: Any, ctx: Dict[str, Any], variables: bool) -> bool:
    # "Each of the six colon-delimited components of the ARN is checked
    # separately and each can include a multi-character match wildcard (*) or a
    # single-character match wildcard (?)." Case-sensitive.  ArnEquals and
    # ArnLike behave the same.
    want, have = _split_arn(_scalar_str(pv)), _split_arn(_scalar_str(rv))
    if want is None or have is None:
        return False
    return all(_matches(w, h, ctx, wildcards=True, variables=variables)
               for w, h in zip(want, have))


# name -> (comparator, negated, supports policy variables)
_OPERATORS: Dict[str, Tuple[Comparator, bool, bool]] = {
    "StringEquals": (_string_cmp(False, False), False, True),
    "StringNotEquals": (_string_cmp(False, False), True, True),
    "StringEqualsIgnoreCase": (_string_cmp(False, True), False, True),
    "StringNotEqualsIgnoreCase": (_string_cmp(False, True), True, True),
    "StringLike": (_string_cmp(True, False), False, True),
    "StringNotLike": (_string_cmp(True, False), True, True),
    "NumericEquals": (_numeric_cmp(lambda a, b: a == b), False, False),
    "NumericNotEquals": (_numeric_cmp(lambda a, b: a == b), True, False),
    "NumericLessThan": (_numeric_cmp(lambda a, b: a < b), False, False),
    "NumericLessThanEquals": (_numeric_cmp(lambda a, b: a <= b), False, False),
    "NumericGreaterThan": (_numeric_cmp(lambda a, b: a > b), False, False),
    "NumericGreaterThanEquals": (_numeric_cmp(lambda a, b: a >= b), False, False),
    "DateEquals": (_date_cmp(lambda a, b: a == b), False, False),
    "DateNotEquals": (_date_cmp(lambda a, b: a == b), True, False),
    "DateLessThan": (_date_cmp(lambda a, b: a < b), False, False),
    "DateLessThanEquals": (_date_cmp(lambda a, b: a <= b), False, False),
    "DateGreaterThan": (_date_cmp(lambda a, b: a > b), False, False),
    "DateGreaterThanEquals": (_date_cmp(lambda a, b: a >= b), False, False),
    "Bool": (_bool_cmp, False, True),
    "BinaryEquals": (_binary_cmp, False, False),
    "IpAddress": (_ip_cmp, False, False),
    "NotIpAddress": (_ip_cmp, True, False),
    "ArnEquals": (_arn_cmp, False, True),
    "ArnLike": (_arn_cmp, False, True),
    "ArnNotEquals": (_arn_cmp, True, True),
    "ArnNotLike": (_arn_cmp, True, True),
}
_OPERATORS_LC = {k.lower(): k for k in _OPERATORS}
_FOR_ALL = "forallvalues:"
_FOR_ANY = "foranyvalue:"


def _parse_operator(name: str) -> Tuple[Optional[str], str, bool]:
    """'ForAnyValue:StringLikeIfExists' -> ('any', 'StringLike', True)."""
    lc = name.lower()
    qualifier = None
    if lc.startswith(_FOR_ALL):
        qualifier, lc = "all", lc[len(_FOR_ALL):]
    elif lc.startswith(_FOR_ANY):
        qualifier, lc = "any", lc[len(_FOR_ANY):]
    if lc == "null":
        return qualifier, "Null", False
    if_exists = lc.endswith("ifexists")
    if if_exists:
        lc = lc[:-len("ifexists")]
    if lc not in _OPERATORS_LC:
        raise PolicyError(f"unknown condition operator {name!r}")
    return qualifier, _OPERATORS_LC[lc], if_exists


def _context_values(ctx: Dict[str, Any], key: str) -> Optional[List[Any]]:
    """Request values for a key, or None when the key is absent."""
    v = ctx.get(key.lower())
    if v is None:
        return None
    values = _as_list(v)
    return values or None  # an empty list is "no value" (a null data set)


def _eval_condition_key(op_name: str, key: str, policy_values: Any,
                        ctx: Dict[str, Any], variables: bool) -> bool:
    qualifier, base, if_exists = _parse_operator(op_name)
    pvals = _as_list(policy_values)
    request = _context_values(ctx, key)

    if base == "Null":
        # "true": the key must be absent; "false": it must be present.
        absent = request is None
        return any((_scalar_str(p).lower() == "true") == absent for p in pvals)

    if request is None:
        if if_exists:
            return True
        if qualifier == "all":
            return True   # ForAllValues is vacuously true on a missing key
        if qualifier == "any":
            return False  # ForAnyValue needs at least one value
        comparator, negated, _ = _OPERATORS[base]
        return negated    # negated operators are true on a missing key

    comparator, negated, allows_vars = _OPERATORS[base]
    use_vars = variables and allows_vars

    def value_ok(rv: Any) -> bool:
        hit = any(comparator(rv, pv, ctx, use_vars) for pv in pvals)
        return hit != negated  # negated operator: none of the policy values

    if qualifier == "all":
        return all(value_ok(rv) for rv in request)
    if qualifier == "any":
        return any(value_ok(rv) for rv in request)
    hit = any(comparator(rv, pv, ctx, use_vars) for rv in request for pv in pvals)
    return hit != negated


def _eval_condition(block: Any, ctx: Dict[str, Any], variables: bool) -> bool:
    if not isinstance(block, dict):
        raise PolicyError(f"Condition must be an object, got {block!r}")
    for op_name, keys in block.items():
        if not isinstance(keys, dict):
            raise PolicyError(f"Condition operator {op_name} must map keys to values")
        for key, policy_values in keys.items():
            if not _eval_condition_key(op_name, key, policy_values, ctx, variables):
                return False
    return True


# ---------------------------------------------------------------- statements

def _action_matches(patterns: Any, action: str) -> bool:
    # Service prefix and action name are case-insensitive; no variables.
    return any(_matches(_scalar_str(p), action, {}, wildcards=True,
                        variables=False, ignore_case=True)
               for p in _as_list(patterns))


def _resource_matches(patterns: Any, resource: str, ctx: Dict[str, Any],
                      variables: bool) -> bool:
    # Whole-string, case-sensitive glob.  A request resource of "*" is just
    # the literal string "*" here (see module docstring).
    return any(_matches(_scalar_str(p), resource, ctx, wildcards=True,
                        variables=variables)
               for p in _as_list(patterns))


def _statement_applies(st: Dict[str, Any], action: str, resource: str,
                       ctx: Dict[str, Any], variables: bool) -> bool:
    if ("Action" in st) == ("NotAction" in st):
        raise PolicyError("statement needs exactly one of Action / NotAction")
    if ("Resource" in st) == ("NotResource" in st):
        raise PolicyError("statement needs exactly one of Resource / NotResource")
    if "Action" in st:
        if not _action_matches(st["Action"], action):
            return False
    elif _action_matches(st["NotAction"], action):
        return False
    if "Resource" in st:
        if not _resource_matches(st["Resource"], resource, ctx, variables):
            return False
    elif _resource_matches(st["NotResource"], resource, ctx, variables):
        return False
    if "Condition" in st and not _eval_condition(st["Condition"], ctx, variables):
        return False
    return True


def _normalize_context(context: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    # Condition key names are case-insensitive.
    ctx: Dict[str, Any] = {}
    for k, v in (context or {}).items():
        ctx[k.lower()] = v
    return ctx


def evaluate(policies: Sequence[Union[Dict[str, Any], str]], action: str,
             resource: str, context: Optional[Dict[str, Any]] = None) -> Decision:
    """Decide one request against a principal's identity policies.

    `policies` are policy documents as dicts (or JSON strings); `action` is
    e.g. "ecs:ListTasks"; `resource` is an ARN or "*"; `context` maps
    condition keys (any case) to a str/bool/number or a list of them.
    """
    ctx = _normalize_context(context)
    allows: List[str] = []
    denies: List[str] = []
    for pi, doc in enumerate(policies):
        if isinstance(doc, str):
            doc = json.loads(doc)
        if not isinstance(doc, dict) or "Statement" not in doc:
            raise PolicyError(f"policy[{pi}] has no Statement")
        variables = doc.get("Version") == _VARIABLES_VERSION
        statements = doc["Statement"]
        if isinstance(statements, dict):
            statements = [statements]
        for si, st in enumerate(statements):
            if not isinstance(st, dict):
                raise PolicyError(f"policy[{pi}].Statement[{si}] is not an object")
            effect = st.get("Effect")
            if effect not in ("Allow", "Deny"):
                raise PolicyError(
                    f"policy[{pi}].Statement[{si}]: Effect must be Allow or Deny, got {effect!r}")
            label = st.get("Sid") or f"policy[{pi}].Statement[{si}]"
            try:
                applies = _statement_applies(st, action, resource, ctx, variables)
            except PolicyError as e:
                raise PolicyError(f"{label}: {e}") from None
            if applies:
                (allows if effect == "Allow" else denies).append(label)
    if denies:
        return Decision(EXPLICIT_DENY, denies, action, resource)
    if allows:
        return Decision(ALLOW, allows, action, resource)
    return Decision(IMPLICIT_DENY, [], action, resource)
