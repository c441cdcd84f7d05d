"""Order pages: checkout.py (清单 and 店铺订购结算), account.py (My Orders and its actions)."""
