"""``/auth``: registration and sign-in (argon2id password hashes, user JWTs)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from meetbox.auth.passwords import PASSWORD_RULES, check_password_rules, hash_password
from meetbox.auth.passwords import verify_password as password_matches
from meetbox.auth.users import User
from meetbox.errors import AlreadyExists, Unauthenticated
from meetbox.store import Document, Store, now_iso
from meetbox.web.replies import INTEGER, STRING, USER, envelope, obj, replies
from meetbox.web.routing import Ctx, Reply, RouteTable, ok
from meetbox.web.schema import Field, Obj

routes = RouteTable("auth")

NAME = Field("string", required=True, min_length=1, max_length=100)
REGISTER = Obj(
    {
        "email": Field("string", required=True, format="email", max_length=254),
        "fName": NAME,
        "lName": NAME,
        "phoneNumber": Field("string", required=True, pattern=r"^\+?[0-9 ()-]{4,32}$"),
        "country": Field("string", required=True, min_length=2, max_length=100),
        "password": Field(
            "string", required=True, min_length=8, max_length=128, description=PASSWORD_RULES
        ),
    },
    examples={
        "email": "haseeb@altegon.com",
        "fName": "Haseeb",
        "lName": "Asif",
        "phoneNumber": "923085000453",
        "country": "Pakistan",
        "password": "AB1239001",
    },
)
LOGIN = Obj(
    {
        "userName": Field("string", required=True, max_length=254, description="the email"),
        "password": Field("string", required=True, max_length=128),
    }
)


def public_user(doc: Document) -> dict[str, Any]:
    return {
        "_id": doc["_id"],
        "email": doc["email"],
        "fName": doc.get("fName", ""),
        "lName": doc.get("lName", ""),
        "role": doc.get("role", "user"),
    }


async def create_user(store: Store, fields: dict[str, Any], role: str = "user") -> Document:
    """The one way users are made (API and CLI): rules checked, password hashed."""
    check_password_rules(fields["password"])
    email = fields["email"].strip().lower()
    if await store.users.find_one({"email": email}) is not None:
        raise AlreadyExists("a user with this email is already registered")
    doc = {k: v for k, v in fields.items() if k != "password"}
    doc.update(
        email=email,
        passwordHash=await hash_password(fields["password"]),
        role=role,
        createdAt=now_iso(),
    )
    return await store.users.insert(doc)


@routes.add(
    "POST",
    "/auth/register",
    summary="Create a user account",
    auth="none",
    rate="auth",
    body=REGISTER,
    responses=replies({201: Reply("User created", envelope(obj({"user": USER})))}, 409),
)
async def register(ctx: Ctx) -> web.Response:
    doc = await create_user(ctx.api.store, ctx.body)
    await ctx.audit("user.register", {"userId": doc["_id"]}, user_id=doc["_id"])
    msg = "User created successfully"
    return ok({"user": public_user(doc)}, msg, status=201, message=msg)


@routes.add(
    "POST",
    "/auth/login",
    summary="Sign in with email and password; returns a user JWT",
    auth="none",
    rate="auth",
    body=LOGIN,
    responses=replies(
        {
            200: Reply(
                "Signed in", envelope(obj({"token": STRING, "expiresAt": INTEGER, "user": USER}))
            )
        }
    ),
)
async def login(ctx: Ctx) -> web.Response:
    email = ctx.body["userName"].strip().lower()
    # per account as well as per address: tries spread over many addresses are limited too
    await ctx.api.limiter.check(ctx.api.limit("auth"), f"account:{email}")
    doc = await ctx.api.store.users.find_one({"email": email})
    if not await password_matches(doc.get("passwordHash") if doc else None, ctx.body["password"]):
        failed_for = doc["_id"] if doc else ""
        await ctx.audit("auth.login", {"userName": email[:254]}, "failure", user_id=failed_for)
        raise Unauthenticated("invalid email or password")
    assert doc is not None
    user = User(doc["_id"], doc.get("role", "user"), doc["email"])
    token, expires = ctx.api.auth.issue_user_token(user)
    await ctx.audit("auth.login", {"userId": user.id}, user_id=user.id)
    return ok({"token": token, "expiresAt": expires, "user": public_user(doc)}, "Login successful")
