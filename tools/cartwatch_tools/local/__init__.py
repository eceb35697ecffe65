"""`cartwatch local`: the whole pipeline on one machine (moto server + BigCommerce sandbox)."""
