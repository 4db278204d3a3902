"""Reports: a static HTML page with plots of run directories (`html`) and the README's results table
(`results`)."""
