"""Optional report sections; importing a module here adds its section to the report."""
