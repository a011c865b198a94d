from scoring.cli import app

app(prog_name="exohunter")
