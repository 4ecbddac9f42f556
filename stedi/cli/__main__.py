from stedi.cli import console

console()
