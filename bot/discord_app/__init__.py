"""The Discord layer: a thin client over bot.service. Only this package imports discord."""
