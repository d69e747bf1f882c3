import click
@click.group("x")
def group() -> None:
    """x"""
command = group
