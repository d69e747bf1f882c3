"""placeholder"""
import click
@click.group("data")
def group() -> None:
    """Market data."""
