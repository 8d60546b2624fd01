"""`ops commitments`: how much steady usage to commit to (Savings Plans, reserved
instances, committed use discounts) from an hourly usage history and the price table."""
