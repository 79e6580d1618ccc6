import { router } from '../../init';
import { health } from './health';
import { addLocation, disableLocation, listLocations, testLocation, updateLocation } from './locations';
import { gc, optimize } from './maintenance';
import { usage } from './usage';

export const storageRouter = router({ usage, health, listLocations, addLocation, updateLocation, testLocation, disableLocation, optimize, gc });
