"""Aliases for resources a refactor moved under a new parent, so that Pulumi updates
them in place instead of replacing them (a replaced generated password is a rotation;
a replaced Namespace deletes what runs in it)."""

from __future__ import annotations

import pulumi


def formerly_top_level() -> pulumi.Alias:
    """The resource was created at the stack's root."""
    return pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)


def formerly_under(parent_type: str, parent_name: str) -> pulumi.Alias:
    """The resource was a child of a component created at the stack's root."""
    urn = f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{parent_type}::{parent_name}"
    return pulumi.Alias(parent=urn)


def moved(opts: pulumi.ResourceOptions, alias: pulumi.Alias) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[alias]))
