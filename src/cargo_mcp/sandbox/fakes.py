"""Deterministic fake business data: companies, people, and node outputs derived from a record id."""

from __future__ import annotations

import hashlib
from typing import Any

_SYL = (
    "ac",
    "me",
    "glo",
    "bex",
    "ini",
    "tech",
    "nova",
    "ly",
    "cor",
    "ta",
    "vel",
    "ox",
    "lum",
    "en",
    "ri",
    "zo",
)
_TLD = ("com", "io", "ai", "co", "dev")
_INDUSTRIES = ("Software", "Fintech", "Healthcare", "Logistics", "Retail", "Manufacturing", "Media")
_FIRST = ("Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Radia", "Tim", "Sophie")
_LAST = ("Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Perlman")
_TITLES = ("VP Sales", "Head of RevOps", "CTO", "Growth Lead", "Account Executive", "CFO")


def digest(*parts: object) -> int:
    """A stable 64-bit hash (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def company(key: str) -> dict[str, Any]:
    """A fake company for a record key: name, domain, industry, size, B2B flag."""
    h = digest("company", key)
    name = "".join(_SYL[(h >> (4 * i)) % len(_SYL)] for i in range(2 + h % 2)).capitalize()
    domain = f"{name.lower()}{h % 97}.{_TLD[h % len(_TLD)]}"
    return {
        "company_name": f"{name} {('Inc', 'Labs', 'GmbH', 'SAS', 'Ltd')[h % 5]}",
        "domain": domain if h % 100 >= 7 else "",  # ~7 % have no domain: the filter stops them
        "industry": _INDUSTRIES[h % len(_INDUSTRIES)],
        "employees": 10 + (h % 5000),
        "is_b2b": h % 10 >= 2,
    }


def person(key: str) -> dict[str, Any]:
    """A fake person at a fake company."""
    h = digest("person", key)
    c = company(key)
    first, last = _FIRST[h % len(_FIRST)], _LAST[(h >> 8) % len(_LAST)]
    domain = c["domain"] or f"{c['company_name'].split()[0].lower()}.com"
    return {
        "first_name": first,
        "last_name": last,
        "company_name": c["company_name"],
        "domain": domain,
        "job_title": _TITLES[(h >> 16) % len(_TITLES)],
        "linkedin_url": f"https://www.linkedin.com/in/{first.lower()}-{last.lower()}-{h % 9999}",
        "is_b2b": c["is_b2b"],
    }


def record_input(record_kind: str, key: str) -> dict[str, Any]:
    """The start node's data for a record (what the run was triggered with)."""
    data = person(key) if record_kind == "person" else company(key)
    data = {k: v for k, v in data.items() if k != "is_b2b"}
    return {"_id": key, **data}


def record_title(record_kind: str, key: str) -> str:
    d = person(key) if record_kind == "person" else company(key)
    if record_kind == "person":
        return f"{d['first_name']} {d['last_name']} ({d['domain']})"
    return str(d["domain"] or d["company_name"])


def node_output(workflow: str, slug: str, action: str, data: dict[str, Any], key: str) -> dict[str, Any]:
    """A plausible ``runContext[slug]`` for a successful node."""
    h = digest("out", workflow, slug, key)
    domain = data.get("domain") or ""
    if action == "start":
        return dict(data)
    if action in ("enrichCompany", "getCompany"):
        return {
            "name": data.get("company_name"),
            "domain": domain,
            "industry": data.get("industry", "Software"),
            "employees": data.get("employees", 50 + h % 900),
            "country": ("US", "FR", "DE", "GB")[h % 4],
            "annual_revenue": (h % 90 + 1) * 1_000_000,
            "linkedin_handle": f"company/{domain.split('.')[0]}",
        }
    if action == "enrichPerson":
        return {
            "email": f"{str(data.get('first_name', 'x')).lower()}@{domain}",
            "seniority": "manager",
            "title": data.get("job_title"),
            "location": ("Paris", "Austin", "Berlin")[h % 3],
        }
    if action == "findEmail":
        return {
            "email": f"{str(data.get('first_name', 'x')).lower()}.{str(data.get('last_name', 'y')).lower()}@{domain}",
            "score": 60 + h % 40,
            "sources": 1 + h % 5,
        }
    if action == "verifyEmail":
        return {"status": "valid" if h % 10 >= 2 else "invalid", "sub_status": None, "free_email": False}
    if action == "sendMessage":
        return {"ok": True, "channel": "C04SALES", "ts": f"{1700000000 + h % 10**7}.{h % 1000:06d}"}
    if action == "agent":
        return {
            "answer": {
                "qualified": h % 10 >= 3,
                "score": h % 100,
                "reasoning": f"{data.get('company_name', 'The account')} matches the ICP on size and industry.",
            }
        }
    if action in ("filter", "branch"):
        return {"condition": True}
    if action == "variables":
        return {"domain": domain.lower(), "priority": ("low", "medium", "high")[h % 3]}
    return {}


def end_output(context: dict[str, Any]) -> dict[str, Any]:
    """The workflow output (``end`` node variables) assembled from upstream node outputs."""
    out: dict[str, Any] = {}
    for slug, value in context.items():
        if not isinstance(value, dict) or slug == "start":
            continue
        if "answer" in value and isinstance(value["answer"], dict):
            out.update({k: v for k, v in value["answer"].items() if k != "reasoning"})
        elif slug not in ("normalize", "has_domain", "is_b2b", "is_valid", "is_qualified", "needs_update"):
            out.update({k: v for k, v in value.items() if not isinstance(v, dict | list)})
    return out
