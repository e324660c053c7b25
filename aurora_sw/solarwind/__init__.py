"""Solar-wind data: OMNI through pyspedas, catalog variables, derived coupling functions."""
